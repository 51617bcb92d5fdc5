package debkernel

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/runxen/runxen/kernel/internal/cache"
)

// cacheFormat changes whenever an entry's content changes meaning (such as
// when modules.dep generation was added); entries of another format are
// rebuilt rather than trusted.
const cacheFormat = 1

// marker records a finished cache entry. Paths are relative to the entry so
// the cache directory can be moved.
type marker struct {
	Format     int    `json:"format"`
	Package    string `json:"package"`
	Version    string `json:"version"`
	Deb        string `json:"deb"`
	Vmlinuz    string `json:"vmlinuz"`
	ModulesDir string `json:"modulesDir"`
}

// loadCached returns the kernel recorded in the entry, or ok=false if the
// entry is missing, partial or damaged.
func loadCached(e *cache.Entry) (k *Kernel, ok bool) {
	var m marker
	if !e.Load(&m) || m.Format != cacheFormat {
		return nil, false
	}
	k = &Kernel{Package: m.Package, Version: m.Version}
	for _, p := range []struct {
		rel string
		dst *string
	}{{m.Deb, &k.Deb}, {m.Vmlinuz, &k.Vmlinuz}, {m.ModulesDir, &k.ModulesDir}} {
		if *p.dst, ok = e.Path(p.rel); !ok {
			return nil, false
		}
		if _, err := os.Stat(*p.dst); err != nil {
			return nil, false
		}
	}
	return k, true
}

// writeMarker records k as the complete content of the entry.
func writeMarker(e *cache.Entry, k *Kernel) error {
	rel := func(p string) (string, error) { return filepath.Rel(e.Dir, p) }
	m := marker{Format: cacheFormat, Package: k.Package, Version: k.Version}
	var err error
	if m.Deb, err = rel(k.Deb); err != nil {
		return err
	}
	if m.Vmlinuz, err = rel(k.Vmlinuz); err != nil {
		return err
	}
	if m.ModulesDir, err = rel(k.ModulesDir); err != nil {
		return err
	}
	return e.Commit(m)
}

// locate finds the kernel inside an extracted image package. Debian ships
// modules under /lib/modules, or /usr/lib/modules once a package follows
// the /usr merge, so both are accepted.
func locate(root string) (version, vmlinuz, modules string, err error) {
	matches, _ := filepath.Glob(filepath.Join(root, "boot", "vmlinuz-*"))
	if len(matches) != 1 {
		return "", "", "", fmt.Errorf("want exactly one boot/vmlinuz-* in the package, found %d", len(matches))
	}
	vmlinuz = matches[0]
	version = strings.TrimPrefix(filepath.Base(vmlinuz), "vmlinuz-")
	for _, dir := range []string{"lib/modules", "usr/lib/modules"} {
		modules = filepath.Join(root, dir, version)
		if fi, err := os.Stat(modules); err == nil && fi.IsDir() {
			return version, vmlinuz, modules, nil
		}
	}
	return "", "", "", fmt.Errorf("kernel %s: no lib/modules/%s in the package", version, version)
}
