package debkernel

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/containerd/log"

	"github.com/runxen/runxen/internal/debian"
	"github.com/runxen/runxen/internal/debian/apt"
	"github.com/runxen/runxen/kernel/internal/cache"
	"github.com/runxen/runxen/kernel/kmod"
)

// Kernel is a kernel image package unpacked in the cache.
type Kernel struct {
	Package    string // image package, e.g. linux-image-6.12.57+deb13-amd64
	Version    string // kernel release, e.g. 6.12.57+deb13-amd64
	Vmlinuz    string // path of boot/vmlinuz-Version
	ModulesDir string // path of lib/modules/Version
	Deb        string // path of the downloaded .deb
}

// maxMetaHops bounds meta package resolution; Debian uses one hop, and a
// loop in a broken archive must not spin forever.
const maxMetaHops = 4

// Fetch returns the kernel from the cache, or downloads and unpacks it. A
// cache hit runs no commands and touches no network.
func Fetch(ctx context.Context, opts Options) (*Kernel, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	e, err := cache.Open(ctx, filepath.Join(o.CacheDir, "kernel"), cacheKey(o.Suite, o.Package, o.Arch), func() {
		o.Progress("kernel: waiting for another build of this kernel to finish")
	})
	if err != nil {
		return nil, err
	}
	defer e.Close()

	if k, ok := loadCached(e); ok {
		o.Progress("kernel: %s %s from cache %s", o.Package, k.Version, e.Dir)
		return k, nil
	}
	if err := e.Reset(); err != nil {
		return nil, err
	}
	f := &fetcher{o: o, entry: e}
	k, err := f.fetch(ctx)
	if err != nil {
		return nil, fmt.Errorf("fetch kernel %s (%s): %w", o.Package, o.Suite, err)
	}
	return k, nil
}

type fetcher struct {
	o     Options
	entry *cache.Entry
	apt   *apt.Env
}

// step runs one named step and reports how long it took.
func (f *fetcher) step(name string, fn func() error) error {
	return cache.Step(f.o.Progress, "kernel", name, fn)
}

func (f *fetcher) run(ctx context.Context, c Cmd) ([]byte, error) {
	return f.o.Runner.Run(ctx, c)
}

func (f *fetcher) fetch(ctx context.Context) (*Kernel, error) {
	mirror := f.o.Mirror
	if mirror == "" {
		var err error
		if mirror, err = debian.Mirror(); err != nil {
			return nil, err
		}
	}
	// Inside the entry, so a run killed before cleaning up leaves nothing
	// that the next rebuild does not remove.
	aptDir, err := os.MkdirTemp(f.entry.Dir, ".apt-*")
	if err != nil {
		return nil, fmt.Errorf("create apt work directory: %w", err)
	}
	defer os.RemoveAll(aptDir)
	f.apt, err = apt.Prepare(ctx, f.o.Runner, aptDir, apt.Config{
		Mirror: mirror, Suite: f.o.Suite, Arch: f.o.Arch, Keyring: f.o.Keyring,
	})
	if err != nil {
		return nil, err
	}

	if err := f.step(fmt.Sprintf("apt-get update (%s %s)", mirror, f.o.Suite), func() error {
		_, err := f.run(ctx, f.apt.Update())
		return err
	}); err != nil {
		return nil, err
	}
	var pkg string
	if err := f.step("resolve "+f.o.Package, func() error {
		pkg, err = f.resolve(ctx, f.o.Package)
		return err
	}); err != nil {
		return nil, err
	}
	var deb string
	if err := f.step("download "+pkg, func() error {
		deb, err = f.download(ctx, pkg)
		return err
	}); err != nil {
		return nil, err
	}
	k := &Kernel{Package: pkg, Deb: deb}
	if err := f.step("extract "+filepath.Base(deb), func() error {
		return f.extract(ctx, k)
	}); err != nil {
		return nil, err
	}
	// Debian's postinst runs depmod; an unpacked package has no
	// modules.dep until we write one.
	if err := f.step("index modules of "+k.Version, func() error {
		return indexModules(ctx, k.ModulesDir)
	}); err != nil {
		return nil, err
	}
	if err := writeMarker(f.entry, k); err != nil {
		return nil, err
	}
	f.o.Progress("kernel: %s %s cached in %s", pkg, k.Version, f.entry.Dir)
	return k, nil
}

// resolve follows meta packages down to the versioned image package.
func (f *fetcher) resolve(ctx context.Context, pkg string) (string, error) {
	for range maxMetaHops {
		out, err := f.run(ctx, f.apt.Show(pkg))
		if err != nil {
			return "", err
		}
		fields, err := controlStanza(out)
		if err != nil {
			return "", fmt.Errorf("apt-cache show %s: %w", pkg, err)
		}
		if fields["package"] != pkg {
			return "", fmt.Errorf("apt-cache show %s: got package %q", pkg, fields["package"])
		}
		next := imageDependency(pkg, fields["depends"])
		if next == "" {
			return pkg, nil
		}
		log.G(ctx).WithField("meta", pkg).WithField("image", next).Debug("resolved kernel meta package")
		pkg = next
	}
	return "", fmt.Errorf("more than %d meta package hops from %s", maxMetaHops, f.o.Package)
}

func (f *fetcher) download(ctx context.Context, pkg string) (string, error) {
	if _, err := f.run(ctx, f.apt.Download(f.entry.Dir, pkg)); err != nil {
		return "", err
	}
	return apt.DebFile(f.entry.Dir, pkg)
}

func (f *fetcher) extract(ctx context.Context, k *Kernel) error {
	root := filepath.Join(f.entry.Dir, "root")
	if _, err := f.run(ctx, apt.Extract(k.Deb, root)); err != nil {
		return err
	}
	var err error
	k.Version, k.Vmlinuz, k.ModulesDir, err = locate(root)
	return err
}

// indexModules writes modules.dep unless the package already carries one.
func indexModules(ctx context.Context, dir string) error {
	if _, err := os.Stat(filepath.Join(dir, "modules.dep")); err == nil {
		return nil
	}
	return kmod.GenerateDep(ctx, dir)
}
