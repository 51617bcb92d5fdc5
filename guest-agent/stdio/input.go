package stdio

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/containerd/errdefs"
)

// deadliner is what *os.File offers for pollable descriptors (pipes from
// os.Pipe, a pty master set non-blocking).
type deadliner interface {
	SetWriteDeadline(time.Time) error
}

// Input is a process's stdin. Writes are serialised; a Write blocked on a
// full pipe returns when its context ends, with the count written so far.
type Input struct {
	w       io.Writer
	closeFn func() error

	wmu sync.Mutex // serialises Write

	mu     sync.Mutex
	closed bool // guarded by mu
}

// NewInput returns an Input writing to w. closeFn ends the input: for a
// pipe, closing it (the process reads EOF); for a terminal, writing the
// end-of-file character, since closing the pty master would hang up the
// terminal and lose the output still in it.
func NewInput(w io.Writer, closeFn func() error) *Input {
	return &Input{w: w, closeFn: closeFn}
}

// ErrClosed is returned by Write after Close. It wraps
// errdefs.ErrFailedPrecondition.
var ErrClosed = fmt.Errorf("stdin is closed: %w", errdefs.ErrFailedPrecondition)

// Write writes p, blocking while the process does not read, until all of p
// is written, the process closed its end, or ctx ends. It returns how many
// bytes were written.
func (in *Input) Write(ctx context.Context, p []byte) (int, error) {
	in.wmu.Lock()
	defer in.wmu.Unlock()
	if in.isClosed() {
		return 0, ErrClosed
	}
	if d, ok := in.w.(deadliner); ok {
		fired := make(chan struct{})
		stop := context.AfterFunc(ctx, func() {
			_ = d.SetWriteDeadline(time.Now())
			close(fired)
		})
		defer func() {
			if !stop() {
				<-fired // it ran or is running: let it finish before the reset
			}
			_ = d.SetWriteDeadline(time.Time{})
		}()
	}
	n, err := in.w.Write(p)
	switch {
	case err == nil:
		return n, nil
	case errors.Is(err, os.ErrDeadlineExceeded) && ctx.Err() != nil:
		// Only the context sets a deadline here.
		return n, ctx.Err()
	case errors.Is(err, os.ErrClosed) && in.isClosed():
		return n, ErrClosed
	default:
		// EPIPE: every reader is gone, the process exited or closed stdin.
		return n, fmt.Errorf("write stdin: %w", err)
	}
}

func (in *Input) isClosed() bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.closed
}

// Close ends the input; a Write in progress returns. Closing twice is
// harmless.
func (in *Input) Close() error {
	in.mu.Lock()
	if in.closed {
		in.mu.Unlock()
		return nil
	}
	in.closed = true
	in.mu.Unlock()
	if in.closeFn == nil {
		return nil
	}
	return in.closeFn()
}
