package kmod

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Tree is a lib/modules/VERSION directory indexed by modules.dep and
// modules.builtin.
type Tree struct {
	Dir     string
	paths   map[string]string   // module name -> path relative to Dir
	deps    map[string][]string // module name -> names it needs
	builtin map[string]bool
}

// Module is a loadable module inside a Tree.
type Module struct {
	Name string // canonical name, e.g. xen_blkfront
	Path string // path relative to the tree, as on disk (maybe compressed)
}

// LoadTree indexes the module tree at dir. modules.dep is required (see
// GenerateDep for trees that lack it); a missing modules.builtin means no
// module is built in.
func LoadTree(dir string) (*Tree, error) {
	t := &Tree{Dir: dir, paths: map[string]string{}, deps: map[string][]string{}, builtin: map[string]bool{}}
	f, err := os.Open(filepath.Join(dir, "modules.dep"))
	if err != nil {
		return nil, fmt.Errorf("module tree %s (run depmod or runxen-mkguest kernel to create modules.dep): %w", dir, err)
	}
	entries, err := ParseDep(f)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("module tree %s: %w", dir, err)
	}
	for _, e := range entries {
		name, _ := NameFromPath(e.Path) // ParseDep checked it
		if _, dup := t.paths[name]; dup {
			continue // modprobe also takes the first entry
		}
		t.paths[name] = e.Path
		for _, d := range e.Deps {
			dn, _ := NameFromPath(d)
			t.deps[name] = append(t.deps[name], dn)
		}
	}
	if f, err := os.Open(filepath.Join(dir, "modules.builtin")); err == nil {
		t.builtin, err = ParseBuiltin(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("module tree %s: %w", dir, err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("module tree %s: %w", dir, err)
	}
	return t, nil
}

// IsBuiltin reports whether the named module is compiled into the kernel.
func (t *Tree) IsBuiltin(name string) bool { return t.builtin[Name(name)] }

// Resolve returns the modules to load for names, dependencies first and each
// once, and separately the requested names that are built into the kernel
// and so need no loading. A name the tree does not know is an error.
func (t *Tree) Resolve(names []string) (load []Module, builtin []string, err error) {
	var roots []string
	for _, n := range names {
		n = Name(n)
		switch {
		case t.paths[n] != "":
			roots = append(roots, n)
		case t.builtin[n]:
			builtin = append(builtin, n)
		default:
			return nil, nil, fmt.Errorf("unknown module %q: not in %s/modules.dep or modules.builtin", n, t.Dir)
		}
	}
	order, err := loadOrder(roots, func(name string) ([]string, error) {
		if t.paths[name] == "" {
			return nil, fmt.Errorf("modules.dep lists %q as a dependency but has no entry for it", name)
		}
		// depmod lists dependencies in reverse load order; walking them
		// backwards loads them the way modprobe would.
		ds := t.deps[name]
		rev := make([]string, 0, len(ds))
		for i := len(ds) - 1; i >= 0; i-- {
			rev = append(rev, ds[i])
		}
		return rev, nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("module tree %s: %w", t.Dir, err)
	}
	for _, n := range order {
		load = append(load, Module{Name: n, Path: t.paths[n]})
	}
	return load, builtin, nil
}
