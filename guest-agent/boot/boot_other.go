//go:build !linux

package boot

import (
	"context"
	"errors"

	"github.com/runxen/runxen/guest-agent/runc"
)

// Options configure Run.
type Options struct {
	Listen, LogLevel, BundleDir string
	Runc                        runc.Config
}

// Run is Linux-only: the agent runs in a Linux guest.
func Run(context.Context, Options) error { return errors.ErrUnsupported }

// Forward is Linux-only.
func Forward(string) error { return errors.ErrUnsupported }
