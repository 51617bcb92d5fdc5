package debpkg

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/runxen/runxen/internal/debian"
	"github.com/runxen/runxen/internal/debian/apt"
	"github.com/runxen/runxen/kernel/internal/cache"
)

// Defaults for Options.
const (
	DefaultSuite = "trixie"
	DefaultArch  = "amd64"
)

// Options says which packages to fetch and where to keep them.
type Options struct {
	// Packages are exact binary package names; order and duplicates do
	// not matter. Dependencies are not added.
	Packages []string
	// Mirror is the Debian archive URL; empty means debian.Mirror(). It is
	// only consulted on a cache miss.
	Mirror string
	// Suite is the Debian release to take the packages from.
	Suite string
	// Arch is the Debian architecture.
	Arch string
	// Keyring verifies the archive.
	Keyring string
	// CacheDir holds unpacked trees under CacheDir/debpkg (required).
	CacheDir string
	// Progress, if set, receives one line per step for humans.
	Progress func(format string, args ...any)
	// Runner runs host commands; nil runs them directly.
	Runner apt.Runner
}

// Tree is a set of packages unpacked into one directory.
type Tree struct {
	// Root is the directory the packages were unpacked into, as if it
	// were the root of a system they were installed on.
	Root string
	// Packages are the unpacked packages, sorted by name.
	Packages []Package
}

// Package is one fetched package.
type Package struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Deb     string `json:"deb"` // path of the .deb (relative to the entry in the marker)
}

func (o Options) withDefaults() (Options, error) {
	if o.CacheDir == "" {
		return o, errors.New("package cache directory not set")
	}
	if len(o.Packages) == 0 {
		return o, errors.New("no packages to fetch")
	}
	pkgs := slices.Clone(o.Packages)
	slices.Sort(pkgs)
	o.Packages = slices.Compact(pkgs)
	for _, p := range o.Packages {
		if err := apt.CheckPackageName(p); err != nil {
			return o, err
		}
	}
	if o.Suite == "" {
		o.Suite = DefaultSuite
	}
	if o.Arch == "" {
		o.Arch = DefaultArch
	}
	if o.Keyring == "" {
		o.Keyring = apt.DefaultKeyring
	}
	if o.Progress == nil {
		o.Progress = func(string, ...any) {}
	}
	if o.Runner == nil {
		o.Runner = apt.ExecRunner{}
	}
	return o, nil
}

// cacheKey names the entry after what determines its content. The mirror is
// deliberately not part of it: every mirror serves the same signed
// packages. The list is sorted and without duplicates by now.
func cacheKey(o Options) string {
	return cache.Key(append([]string{"debpkg", o.Suite, o.Arch}, o.Packages...)...)
}

// Fetch returns the packages' tree from the cache, or downloads and unpacks
// them. A cache hit runs no commands and touches no network.
func Fetch(ctx context.Context, opts Options) (*Tree, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	e, err := cache.Open(ctx, filepath.Join(o.CacheDir, "debpkg"), cacheKey(o), func() {
		o.Progress("packages: waiting for another build of this package set to finish")
	})
	if err != nil {
		return nil, err
	}
	defer e.Close()

	if t, ok := loadCached(e, o); ok {
		o.Progress("packages: %d packages from cache %s", len(t.Packages), e.Dir)
		return t, nil
	}
	if err := e.Reset(); err != nil {
		return nil, err
	}
	t, err := fetch(ctx, o, e)
	if err != nil {
		return nil, fmt.Errorf("fetch packages %s (%s): %w", strings.Join(o.Packages, " "), o.Suite, err)
	}
	return t, nil
}

func fetch(ctx context.Context, o Options, e *cache.Entry) (*Tree, error) {
	step := func(name string, fn func() error) error { return cache.Step(o.Progress, "packages", name, fn) }
	mirror := o.Mirror
	if mirror == "" {
		var err error
		if mirror, err = debian.Mirror(); err != nil {
			return nil, err
		}
	}
	// Inside the entry, so a run killed before cleaning up leaves nothing
	// that the next rebuild does not remove.
	aptDir, err := os.MkdirTemp(e.Dir, ".apt-*")
	if err != nil {
		return nil, fmt.Errorf("create apt work directory: %w", err)
	}
	defer os.RemoveAll(aptDir)
	env, err := apt.Prepare(ctx, o.Runner, aptDir, apt.Config{Mirror: mirror, Suite: o.Suite, Arch: o.Arch, Keyring: o.Keyring})
	if err != nil {
		return nil, err
	}
	if err := step(fmt.Sprintf("apt-get update (%s %s)", mirror, o.Suite), func() error {
		_, err := o.Runner.Run(ctx, env.Update())
		return err
	}); err != nil {
		return nil, err
	}

	debs := filepath.Join(e.Dir, "debs")
	if err := os.Mkdir(debs, 0o755); err != nil {
		return nil, err
	}
	t := &Tree{Root: filepath.Join(e.Dir, "root")}
	if err := step(fmt.Sprintf("download %d packages", len(o.Packages)), func() error {
		if _, err := o.Runner.Run(ctx, env.Download(debs, o.Packages...)); err != nil {
			return err
		}
		for _, name := range o.Packages {
			deb, err := apt.DebFile(debs, name)
			if err != nil {
				return err
			}
			version, err := apt.DebVersion(deb)
			if err != nil {
				return err
			}
			t.Packages = append(t.Packages, Package{Name: name, Version: version, Deb: deb})
		}
		return nil
	}); err != nil {
		return nil, err
	}
	if err := step(fmt.Sprintf("extract %d packages", len(t.Packages)), func() error {
		if err := os.Mkdir(t.Root, 0o755); err != nil {
			return err
		}
		// In name order: should two packages ship the same file, the
		// result is still the same on every run.
		for _, p := range t.Packages {
			if _, err := o.Runner.Run(ctx, apt.Extract(p.Deb, t.Root)); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return nil, err
	}
	if err := writeMarker(e, o, t); err != nil {
		return nil, err
	}
	for _, p := range t.Packages {
		o.Progress("packages: %s %s", p.Name, p.Version)
	}
	o.Progress("packages: cached in %s", e.Dir)
	return t, nil
}
