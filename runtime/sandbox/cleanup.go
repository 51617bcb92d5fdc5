package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/runxen/runxen/runtime/xen"
	"github.com/runxen/runxen/runtime/xen9pfs"
	"github.com/runxen/runxen/runtime/xenstore"
)

// Cleanup removes what a sandbox whose owner died (a shim killed before
// Destroy) may have left: its domain, found by name, the domain's 9pfs
// device nodes, and its staged bind mounts. It is what `shim delete`
// calls; on a host with nothing left it does nothing and returns nil.
func Cleanup(ctx context.Context, cfg Config) error {
	if err := checkID("sandbox ID", cfg.ID); err != nil {
		return err
	}
	if err := checkID("namespace", cfg.Namespace); err != nil {
		return err
	}
	if cfg.Mounter == nil {
		cfg.Mounter = hostMounter{}
	}
	name := DomainName(cfg.Namespace, cfg.ID)
	var errs []error

	store := cfg.Store
	if store == nil {
		xs, err := xenstore.Dial(ctx)
		if err != nil {
			return fmt.Errorf("clean up sandbox %s: connect to xenstored: %w", cfg.ID, err)
		}
		defer xs.Close()
		store = xs
	}
	ts := cfg.Toolstack
	if ts == nil {
		ts = xen.NewXL(xen.XLOptions{Path: cfg.Settings.Xen.XL, Store: store})
	}
	doms, err := ts.List(ctx)
	if err != nil {
		errs = append(errs, err)
	}
	for _, d := range doms {
		if d.Name != name {
			continue
		}
		if err := ts.Destroy(ctx, d.ID); err != nil && !errors.Is(err, xen.ErrNoDomain) {
			errs = append(errs, fmt.Errorf("destroy leftover domain %s (%d): %w", name, d.ID, err))
			continue
		}
		// The backend nodes are dom0's and outlive the domain.
		if err := xen9pfs.RemoveAll(ctx, store, 0, uint32(d.ID)); err != nil {
			errs = append(errs, fmt.Errorf("remove 9pfs nodes of leftover domain %d: %w", d.ID, err))
		}
	}

	dir := filepath.Join(cfg.Settings.StateDir, cfg.Namespace, cfg.ID)
	st := &stage{dir: dir, mounter: cfg.Mounter}
	shareDirs, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		errs = append(errs, fmt.Errorf("read staging %s: %w", dir, err))
	default:
		st.made = true
		for _, sd := range shareDirs {
			files, err := os.ReadDir(filepath.Join(dir, sd.Name()))
			if err != nil {
				errs = append(errs, err)
				continue
			}
			for _, f := range files {
				st.mounted = append(st.mounted, filepath.Join(dir, sd.Name(), f.Name()))
			}
		}
		if err := st.remove(); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("clean up sandbox %s: %w", cfg.ID, err)
	}
	return nil
}
