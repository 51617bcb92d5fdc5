package service

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/containerd/errdefs"
	"google.golang.org/protobuf/types/known/emptypb"

	agent "github.com/runxen/runxen/guest-agent/api/v1"
	"github.com/runxen/runxen/guest-agent/shares"
)

// fakeShares records mounts and syncs; like the Mounter, it refuses a tag
// mounted twice.
type fakeShares struct {
	mu     sync.Mutex
	mounts []shares.Request
	syncs  int
}

func (f *fakeShares) Mount(ctx context.Context, q shares.Request) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, m := range f.mounts {
		if m.Tag == q.Tag {
			return fmt.Errorf("share %q is already mounted: %w", q.Tag, errdefs.ErrAlreadyExists)
		}
	}
	f.mounts = append(f.mounts, q)
	return nil
}

func (f *fakeShares) Sync(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.syncs++
	return nil
}

func TestMountShare(t *testing.T) {
	fs := &fakeShares{}
	h := newHarness(t, func(c *Config) { c.Shares = fs })
	ctx := h.ctx()
	if _, err := h.c.MountShare(ctx, &agent.MountShareRequest{Tag: "rootfs", Target: "/run/runxen/rootfs/c1", ReadOnly: true,
		Msize: 131072, Cache: agent.ShareCache_SHARE_CACHE_NONE}); err != nil {
		t.Fatal(err)
	}
	want := shares.Request{Tag: "rootfs", Target: "/run/runxen/rootfs/c1", ReadOnly: true, Msize: 131072, Cache: shares.CacheNone}
	if len(fs.mounts) != 1 || fs.mounts[0] != want {
		t.Fatalf("mounts %+v, want %+v", fs.mounts, want)
	}
	for _, c := range []struct {
		name string
		req  *agent.MountShareRequest
		is   func(error) bool
		want string
	}{
		{"bad tag", &agent.MountShareRequest{Tag: "a,b", Target: "/x"}, errdefs.IsInvalidArgument, "only letters"},
		{"relative target", &agent.MountShareRequest{Tag: "v", Target: "x"}, errdefs.IsInvalidArgument, "absolute"},
		{"over /proc", &agent.MountShareRequest{Tag: "v", Target: "/proc/1"}, errdefs.IsInvalidArgument, "kernel file system"},
		{"tag again", &agent.MountShareRequest{Tag: "rootfs", Target: "/other"}, errdefs.IsAlreadyExists, "already mounted"},
	} {
		_, err := h.c.MountShare(ctx, c.req)
		err = native(err)
		if err == nil || !c.is(err) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error with %q", c.name, err, c.want)
		}
	}
	if len(fs.mounts) != 1 {
		t.Errorf("refused requests reached the mounter: %+v", fs.mounts)
	}
	if _, err := h.c.SyncFS(ctx, &emptypb.Empty{}); err != nil || fs.syncs != 1 {
		t.Fatalf("SyncFS: %v, %d syncs", err, fs.syncs)
	}
}

func TestMountShareUnsupported(t *testing.T) {
	h := newHarness(t)
	ctx := h.ctx()
	if _, err := h.c.MountShare(ctx, &agent.MountShareRequest{Tag: "rootfs", Target: "/r"}); !errdefs.IsNotImplemented(native(err)) {
		t.Errorf("MountShare without a mounter: %v", err)
	}
	if _, err := h.c.SyncFS(ctx, &emptypb.Empty{}); !errdefs.IsNotImplemented(native(err)) {
		t.Errorf("SyncFS without a mounter: %v", err)
	}
}
