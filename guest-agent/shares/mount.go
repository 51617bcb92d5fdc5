package shares

import (
	"context"
	"fmt"
	"sync"

	"github.com/containerd/errdefs"
	"github.com/containerd/log"
)

// Mounter mounts shares and flushes the guest's file systems. It is safe
// for concurrent use; mounts are made one at a time.
type Mounter struct {
	mount func(source, target, fstype string, flags uintptr, data string) error
	sync  func()

	mu      sync.Mutex
	tags    map[string]string // tag -> target; guarded by mu
	targets map[string]string // target -> tag; guarded by mu
}

// NewMounter returns a Mounter that makes real mounts.
func NewMounter() *Mounter {
	return newMounter(sysMount, sysSync)
}

func newMounter(mount func(source, target, fstype string, flags uintptr, data string) error, sync func()) *Mounter {
	return &Mounter{mount: mount, sync: sync, tags: map[string]string{}, targets: map[string]string{}}
}

// Mount mounts the share q names at q.Target, creating missing
// directories (mode 0755) without following symbolic links. A tag or
// target already mounted is refused with errdefs.ErrAlreadyExists. On a
// failed mount the directories created stay (they are empty).
func (m *Mounter) Mount(ctx context.Context, q Request) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if t, ok := m.tags[q.Tag]; ok {
		return fmt.Errorf("share %q is already mounted at %s: %w", q.Tag, t, errdefs.ErrAlreadyExists)
	}
	if tag, ok := m.targets[q.Target]; ok {
		return fmt.Errorf("%s already has share %q mounted: %w", q.Target, tag, errdefs.ErrAlreadyExists)
	}
	if err := mountShare(m.mount, q); err != nil {
		return err
	}
	m.tags[q.Tag] = q.Target
	m.targets[q.Target] = q.Tag
	log.G(ctx).WithField("tag", q.Tag).WithField("target", q.Target).WithField("options", q.Options()).
		WithField("readonly", q.ReadOnly).Info("share mounted")
	return nil
}

// Sync flushes every file system (sync(2)) and returns once that is done,
// or when ctx ends (the flush then carries on).
func (m *Mounter) Sync(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		m.sync()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("sync: %w", ctx.Err())
	}
}
