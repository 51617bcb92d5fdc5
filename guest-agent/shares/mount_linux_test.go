package shares

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/containerd/errdefs"
	"golang.org/x/sys/unix"
)

// mountCall is what the fake mount saw; dir is where the target
// descriptor's magic link resolved at the time of the call.
type mountCall struct {
	source, dir, fstype, data string
	flags                     uintptr
}

type fakeMount struct {
	mu    sync.Mutex
	calls []mountCall
	err   error
}

func (f *fakeMount) mount(source, target, fstype string, flags uintptr, data string) error {
	if !strings.HasPrefix(target, "/proc/self/fd/") {
		return errors.New("mount not made on a descriptor: " + target)
	}
	dir, err := os.Readlink(target)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, mountCall{source, dir, fstype, data, flags})
	return f.err
}

func TestMount(t *testing.T) {
	root := t.TempDir()
	fm := &fakeMount{}
	m := newMounter(fm.mount, func() {})
	ctx := context.Background()

	target := filepath.Join(root, "run/runxen/rootfs/c1")
	must(t, m.Mount(ctx, Request{Tag: "rootfs", Target: target, Msize: DefaultMsize, Cache: CacheMMap}))
	if st, err := os.Stat(target); err != nil || !st.IsDir() || st.Mode().Perm() != 0o755&^umask() {
		t.Fatalf("target: %v, %v", st, err)
	}
	vol := filepath.Join(root, "vol")
	must(t, m.Mount(ctx, Request{Tag: "vol", Target: vol, ReadOnly: true, Msize: 65536, Cache: CacheNone}))
	want := []mountCall{
		{"rootfs", target, "9p", "trans=xen,version=9p2000.L,msize=262144,cache=mmap", 0},
		{"vol", vol, "9p", "trans=xen,version=9p2000.L,msize=65536,cache=none", unix.MS_RDONLY},
	}
	if len(fm.calls) != 2 || fm.calls[0] != want[0] || fm.calls[1] != want[1] {
		t.Fatalf("mounts %+v, want %+v", fm.calls, want)
	}

	// Each tag once, each target once.
	for _, q := range []Request{
		{Tag: "rootfs", Target: filepath.Join(root, "other"), Msize: DefaultMsize, Cache: CacheMMap},
		{Tag: "new", Target: vol, Msize: DefaultMsize, Cache: CacheMMap},
	} {
		if err := m.Mount(ctx, q); !errors.Is(err, errdefs.ErrAlreadyExists) {
			t.Errorf("Mount(%+v) = %v, want AlreadyExists", q, err)
		}
	}
	if len(fm.calls) != 2 {
		t.Errorf("refused mounts reached mount(2): %+v", fm.calls)
	}
}

func umask() os.FileMode {
	old := unix.Umask(0)
	unix.Umask(old)
	return os.FileMode(old)
}

// TestMountRefusesSymlinks: no component of the target may be a symbolic
// link, to a directory or not, and nothing is created through one.
func TestMountRefusesSymlinks(t *testing.T) {
	root := t.TempDir()
	outside := t.TempDir()
	must(t, os.Symlink(outside, filepath.Join(root, "link")))
	must(t, os.MkdirAll(filepath.Join(root, "real"), 0o755))
	must(t, os.Symlink("real", filepath.Join(root, "rel")))
	must(t, os.WriteFile(filepath.Join(root, "file"), nil, 0o644))
	fm := &fakeMount{}
	m := newMounter(fm.mount, func() {})
	for _, target := range []string{
		filepath.Join(root, "link"),
		filepath.Join(root, "link/sub"),
		filepath.Join(root, "rel/sub"),
		filepath.Join(root, "file"),
		filepath.Join(root, "file/sub"),
	} {
		err := m.Mount(context.Background(), Request{Tag: "t", Target: target, Msize: DefaultMsize, Cache: CacheMMap})
		if err == nil || !strings.Contains(err.Error(), "symbolic link or not a directory") {
			t.Errorf("Mount at %s: %v", target, err)
		}
	}
	if len(fm.calls) != 0 {
		t.Errorf("mount(2) called: %+v", fm.calls)
	}
	if ents, _ := os.ReadDir(outside); len(ents) != 0 {
		t.Errorf("created through a symlink: %v", ents)
	}
	if ents, _ := os.ReadDir(filepath.Join(root, "real")); len(ents) != 0 {
		t.Errorf("created through a relative symlink: %v", ents)
	}
}

// TestMountFails: a failed mount is reported with the tag, target and
// options, and the tag can be mounted later.
func TestMountFails(t *testing.T) {
	root := t.TempDir()
	fm := &fakeMount{err: unix.EINVAL}
	m := newMounter(fm.mount, func() {})
	q := Request{Tag: "rootfs", Target: filepath.Join(root, "r"), Msize: DefaultMsize, Cache: CacheMMap}
	err := m.Mount(context.Background(), q)
	if err == nil || !errors.Is(err, unix.EINVAL) || !strings.Contains(err.Error(), `"rootfs"`) ||
		!strings.Contains(err.Error(), "trans=xen") || !strings.Contains(err.Error(), "device connected") {
		t.Fatalf("Mount = %v", err)
	}
	fm.err = nil
	must(t, m.Mount(context.Background(), q))
}

func TestSync(t *testing.T) {
	release := make(chan struct{})
	synced := make(chan struct{})
	m := newMounter(nil, func() { <-release; close(synced) })
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := m.Sync(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Sync with a stuck sync(2) = %v", err)
	}
	close(release)
	<-synced
	m = newMounter(nil, func() {})
	must(t, m.Sync(context.Background()))
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
