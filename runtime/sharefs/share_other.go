//go:build !linux

package sharefs

import (
	"context"
	"errors"
	"io"

	"github.com/runxen/runxen/runtime/iolimit"
)

// errNotLinux: the file server needs Linux's O_PATH, *at and /proc calls.
var errNotLinux = errors.New("sharefs: Linux only")

// Share is the file server for one host directory (Linux only).
type Share struct{ cfg Config }

// New fails: the file server runs on Linux (dom0) only.
func New(cfg Config) (*Share, error) { return nil, errNotLinux }

// Limiter returns the share's limiter.
func (s *Share) Limiter() *iolimit.Limiter { return s.cfg.Limiter }

// ReadOnly reports whether the share refuses changes.
func (s *Share) ReadOnly() bool { return s.cfg.ReadOnly }

// Serve fails on this platform.
func (s *Share) Serve(context.Context, io.ReadWriteCloser) error { return errNotLinux }

// Sync fails on this platform.
func (s *Share) Sync(context.Context) error { return errNotLinux }

// Close does nothing on this platform.
func (s *Share) Close() error { return nil }
