package plugin

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/containerd/containerd/v2/core/mount"
	"github.com/containerd/log"

	"github.com/runxen/runxen/runtime/netns"
	"github.com/runxen/runxen/shim/bundle"
)

// Cleanup removes what a dead shim left of a container (the manager's
// `delete`): its guest, its rootfs mount, an orphaned network namespace
// holder. Each step runs whatever the others did.
func Cleanup(ctx context.Context, dir string, rec bundle.Record) error {
	var errs []error
	if err := destroyGuest(ctx, rec); err != nil {
		errs = append(errs, err)
	}
	// The record names the mount before it is made.
	switch target := rec.Mounted; {
	case target == "":
	case filepath.Dir(target) != filepath.Clean(dir):
		errs = append(errs, fmt.Errorf("record names mount %s outside bundle %s; not unmounted", target, dir))
	default:
		if err := mount.UnmountRecursive(target, 0); err != nil {
			errs = append(errs, fmt.Errorf("unmount %s: %w", target, err))
		}
	}
	if err := netns.Cleanup(ctx, rec.ID); err != nil {
		errs = append(errs, err)
	}
	err := errors.Join(errs...)
	if err == nil {
		log.G(ctx).WithField("id", rec.ID).Debug("cleaned up after a dead shim")
	}
	return err
}
