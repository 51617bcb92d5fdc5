package xen9pfs

import (
	"context"
	"errors"

	"github.com/runxen/runxen/runtime/xen"
)

// ToolstackExited is a Config.DomainExited that asks the toolstack: a
// domain that shut down (powered off, crashed), is dying or is gone will
// never run again, so its devices can go at once and the domain's pages
// are not held while its owner destroys it.
func ToolstackExited(ts xen.Toolstack) func(ctx context.Context, domid uint32) (bool, error) {
	return func(ctx context.Context, domid uint32) (bool, error) {
		info, err := ts.Info(ctx, xen.DomID(domid))
		if errors.Is(err, xen.ErrNoDomain) {
			return true, nil
		}
		if err != nil {
			return false, err
		}
		return info.State.Exited(), nil
	}
}
