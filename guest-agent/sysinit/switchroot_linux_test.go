//go:build linux

package sysinit

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// buildTree makes a small initramfs-like tree in src.
func buildTree(t testing.TB, src string) {
	t.Helper()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(src, "usr/sbin"), 0o755))
	must(os.MkdirAll(filepath.Join(src, "lib/modules/6.12/kernel"), 0o755))
	must(os.MkdirAll(filepath.Join(src, "etc/runxen"), 0o755))
	must(os.WriteFile(filepath.Join(src, "init"), []byte("agent binary"), 0o755))
	must(os.WriteFile(filepath.Join(src, "usr/sbin/runc"), bytes.Repeat([]byte("r"), 3<<20), 0o755))
	must(os.WriteFile(filepath.Join(src, "usr/sbin/suid"), []byte("s"), 0o755))
	must(os.Chmod(filepath.Join(src, "usr/sbin/suid"), os.ModeSetuid|0o755))
	must(os.WriteFile(filepath.Join(src, "lib/modules/6.12/kernel/xen-evtchn.ko"), []byte("ko"), 0o644))
	must(os.WriteFile(filepath.Join(src, "etc/runxen/modules.load"), []byte("/lib/modules/6.12/kernel/xen-evtchn.ko\n"), 0o644))
	must(os.Symlink("usr/sbin", filepath.Join(src, "sbin")))
	must(os.Link(filepath.Join(src, "usr/sbin/runc"), filepath.Join(src, "usr/sbin/runc.hard")))
	must(unix.Mkfifo(filepath.Join(src, "etc/fifo"), 0o600))
	must(os.Mkdir(filepath.Join(src, "readonly"), 0o755))
	must(os.WriteFile(filepath.Join(src, "readonly/f"), []byte("x"), 0o444))
	must(os.Chmod(filepath.Join(src, "readonly"), 0o555))
	old := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	must(os.Chtimes(filepath.Join(src, "init"), old, old))
}

func TestMoveTree(t *testing.T) {
	base := t.TempDir()
	src := filepath.Join(base, "src")
	buildTree(t, src)
	dst := filepath.Join(src, "newroot") // inside src, as in the guest
	if err := os.Mkdir(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	st, err := moveTree(src, dst, func(rel string) bool { return rel == "lib/modules" })
	if err != nil {
		t.Fatal(err)
	}
	if st.Files != 5 || st.Dropped != 1 || st.Bytes < 3<<20 {
		t.Errorf("stats %+v", st)
	}
	check := func(rel string, wantMode os.FileMode, content string) {
		t.Helper()
		fi, err := os.Lstat(filepath.Join(dst, rel))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != wantMode {
			t.Errorf("%s: mode %v, want %v", rel, fi.Mode(), wantMode)
		}
		if content != "" {
			b, _ := os.ReadFile(filepath.Join(dst, rel))
			if string(b) != content {
				t.Errorf("%s: content %q", rel, b)
			}
		}
	}
	check("init", 0o755, "agent binary")
	check("usr/sbin/suid", os.ModeSetuid|0o755, "s")
	check("sbin", os.ModeSymlink|0o777, "")
	check("etc/fifo", os.ModeNamedPipe|0o600, "")
	check("readonly", os.ModeDir|0o555, "")
	check("readonly/f", 0o444, "x")
	check("etc/runxen/modules.load", 0o644, "/lib/modules/6.12/kernel/xen-evtchn.ko\n")
	if target, _ := os.Readlink(filepath.Join(dst, "sbin")); target != "usr/sbin" {
		t.Errorf("symlink target %q", target)
	}
	var a, b unix.Stat_t
	unix.Stat(filepath.Join(dst, "usr/sbin/runc"), &a)
	unix.Stat(filepath.Join(dst, "usr/sbin/runc.hard"), &b)
	if a.Ino != b.Ino || a.Nlink != 2 {
		t.Errorf("hard link not kept: inodes %d, %d, nlink %d", a.Ino, b.Ino, a.Nlink)
	}
	if fi, _ := os.Stat(filepath.Join(dst, "init")); !fi.ModTime().Equal(time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)) {
		t.Errorf("mtime %v", fi.ModTime())
	}
	if _, err := os.Stat(filepath.Join(dst, "lib/modules")); err == nil {
		t.Error("dropped directory copied")
	}
	// The source is empty but for the new root: every file was deleted.
	ents, _ := os.ReadDir(src)
	var left []string
	for _, e := range ents {
		left = append(left, e.Name())
	}
	if strings.Join(left, ",") != "newroot" {
		t.Errorf("left in the source: %v", left)
	}
}

func TestMoveTreeMountPoint(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a tmpfs inside the tree")
	}
	src := t.TempDir()
	mp := filepath.Join(src, "proc")
	os.Mkdir(mp, 0o555)
	if err := unix.Mount("tmpfs", mp, "tmpfs", 0, ""); err != nil {
		t.Skipf("cannot mount: %v", err)
	}
	defer unix.Unmount(mp, unix.MNT_DETACH)
	os.WriteFile(filepath.Join(mp, "inside"), []byte("x"), 0o644)
	dst := filepath.Join(src, "newroot")
	os.Mkdir(dst, 0o755)
	if _, err := moveTree(src, dst, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dst, "proc")); err != nil {
		t.Fatal("mount point not recreated")
	}
	if _, err := os.Stat(filepath.Join(dst, "proc/inside")); err == nil {
		t.Error("copied from inside a mount point")
	}
	if _, err := os.Stat(filepath.Join(mp, "inside")); err != nil {
		t.Error("deleted inside a mount point")
	}
}

func TestRootIsInitramfs(t *testing.T) {
	// On a test machine / is a real file system.
	is, err := RootIsInitramfs()
	if err != nil {
		t.Skip(err)
	}
	if is {
		t.Skip("running from an initramfs")
	}
}

// BenchmarkMoveTree measures moving an initramfs-sized tree (runc, its
// libraries and the agent: about 40 MiB in ~300 files) between two
// tmpfs-backed directories, as the guest does at boot.
func BenchmarkMoveTree(b *testing.B) {
	shm := "/dev/shm"
	if _, err := os.Stat(shm); err != nil {
		b.Skip("no /dev/shm tmpfs")
	}
	sizes := []int{15 << 20, 12 << 20, 4 << 20, 2 << 20}
	for i := 0; i < 300; i++ {
		sizes = append(sizes, 24<<10)
	}
	var total int64
	for _, s := range sizes {
		total += int64(s)
	}
	b.SetBytes(total)
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		base, err := os.MkdirTemp(shm, "movetree")
		if err != nil {
			b.Fatal(err)
		}
		src, dst := filepath.Join(base, "src"), filepath.Join(base, "dst")
		os.MkdirAll(filepath.Join(src, "usr/lib"), 0o755)
		os.Mkdir(dst, 0o755)
		for j, s := range sizes {
			os.WriteFile(filepath.Join(src, "usr/lib", fmt.Sprint(j)), make([]byte, s), 0o644)
		}
		b.StartTimer()
		if _, err := moveTree(src, dst, nil); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		os.RemoveAll(base)
	}
}
