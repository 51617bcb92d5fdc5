//go:build unix

package cache

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// lockPoll is how often a waiting builder retries a held cache lock; flock
// has no timeout, and polling lets a waiter honour its context.
const lockPoll = 200 * time.Millisecond

// Lock takes an exclusive lock on path so that two concurrent builders of
// the same cache entry do not build it over each other. If another process
// holds the lock, waiting (if not nil) is called once before Lock blocks.
// The lock is released by unlock, or when the process exits.
func Lock(ctx context.Context, path string, waiting func()) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open cache lock: %w", err)
	}
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, nil
		}
		if !errors.Is(err, unix.EWOULDBLOCK) && !errors.Is(err, unix.EINTR) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		if waiting != nil {
			waiting()
			waiting = nil
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("wait for cache lock %s: %w", path, ctx.Err())
		case <-time.After(lockPoll):
		}
	}
}
