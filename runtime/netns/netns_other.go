//go:build !linux

package netns

import (
	"context"
	"fmt"

	"github.com/containerd/errdefs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Holder needs Linux network namespaces; elsewhere NewHolder fails.
type Holder struct{}

func NewHolder(ctx context.Context, id string, spec *specs.Spec) (*Holder, error) {
	return nil, fmt.Errorf("network namespace holder: %w", errdefs.ErrNotImplemented)
}

func Cleanup(ctx context.Context, id string) error { return nil }

func (h *Holder) Pid() int              { return 0 }
func (h *Holder) Mode() Mode            { return ModeHost }
func (h *Holder) NetNSPath() string     { return "" }
func (h *Holder) Done() <-chan struct{} { return nil }
func (h *Holder) Err() error            { return nil }
func (h *Holder) Close() error          { return nil }
