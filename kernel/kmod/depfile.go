package kmod

import (
	"bufio"
	"fmt"
	"io"
	"path/filepath"
	"strings"
)

// DepEntry is one line of modules.dep: a module file and the module files it
// needs, as paths relative to the modules directory.
type DepEntry struct {
	Path string
	Deps []string
}

// ParseDep parses modules.dep as written by depmod(8):
//
//	kernel/fs/ext4/ext4.ko.xz: kernel/fs/jbd2/jbd2.ko.xz kernel/fs/mbcache.ko.xz
//
// Every path must be a local module path: these paths are later opened on
// the host and copied into images, so "../" or absolute paths are rejected.
func ParseDep(r io.Reader) ([]DepEntry, error) {
	var entries []DepEntry
	sc := bufio.NewScanner(r)
	// A module with many dependencies makes a long line; 1 MiB is far above
	// anything depmod writes.
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		mod, deps, ok := strings.Cut(line, ":")
		if !ok {
			return nil, fmt.Errorf("modules.dep line %d: missing ':' in %q", n, line)
		}
		e := DepEntry{Path: strings.TrimSpace(mod), Deps: strings.Fields(deps)}
		for _, p := range append([]string{e.Path}, e.Deps...) {
			if err := checkModulePath(p); err != nil {
				return nil, fmt.Errorf("modules.dep line %d: %w", n, err)
			}
		}
		entries = append(entries, e)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read modules.dep: %w", err)
	}
	return entries, nil
}

func checkModulePath(p string) error {
	if !filepath.IsLocal(p) || strings.Contains(p, `\`) {
		return fmt.Errorf("module path %q is not inside the modules directory", p)
	}
	if _, ok := NameFromPath(p); !ok {
		return fmt.Errorf("%q is not a kernel module path", p)
	}
	return nil
}

// WriteDep writes entries in modules.dep format.
func WriteDep(w io.Writer, entries []DepEntry) error {
	bw := bufio.NewWriter(w)
	for _, e := range entries {
		bw.WriteString(e.Path + ":")
		for _, d := range e.Deps {
			bw.WriteString(" " + d)
		}
		bw.WriteString("\n")
	}
	return bw.Flush()
}

// ParseBuiltin parses modules.builtin: one path per line for each module
// compiled into the kernel image. It returns the canonical module names.
func ParseBuiltin(r io.Reader) (map[string]bool, error) {
	builtin := map[string]bool{}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, ok := NameFromPath(line)
		if !ok {
			return nil, fmt.Errorf("modules.builtin line %d: %q is not a module path", n, line)
		}
		builtin[name] = true
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read modules.builtin: %w", err)
	}
	return builtin, nil
}
