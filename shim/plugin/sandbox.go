package plugin

import (
	"context"
	"fmt"

	"github.com/containerd/errdefs"

	"github.com/runxen/runxen/shim/bundle"
	"github.com/runxen/runxen/shim/task"
)

// newSandbox creates the guest through runtime/sandbox.
func newSandbox(ctx context.Context, r task.SandboxRequest) (task.Sandbox, error) {
	return nil, fmt.Errorf("sandbox %s: runtime/sandbox is not wired into the shim yet: %w", r.SandboxID, errdefs.ErrNotImplemented)
}

// destroyGuest destroys the recorded guest by its domain name.
func destroyGuest(ctx context.Context, rec bundle.Record) error {
	if rec.Domain == "" {
		return nil
	}
	return fmt.Errorf("destroy domain %s: runtime/sandbox is not wired into the shim yet: %w", rec.Domain, errdefs.ErrNotImplemented)
}
