//go:build linux

package sysinit

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"time"

	"golang.org/x/sys/unix"
)

// RootIsInitramfs reports whether / is the kernel's initial root file
// system ("rootfs", the unpacked initramfs), which pivot_root(2) refuses to
// move: it has no parent mount. Needs /proc mounted.
func RootIsInitramfs() (bool, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return false, fmt.Errorf("read mount table: %w", err)
	}
	defer f.Close()
	infos, err := ParseMountInfo(f)
	if err != nil {
		return false, err
	}
	fstype := ""
	for _, i := range infos {
		if i.MountPoint == "/" {
			fstype = i.FSType // the last mount on / is the one in use
		}
	}
	return fstype == "rootfs", nil
}

// MoveStats says what MoveRootToTmpfs moved.
type MoveStats struct {
	Files, Dirs, Others int
	Bytes               int64
	Dropped             int // entries removed without copying
	Took                time.Duration
}

// MoveRootToTmpfs makes a tmpfs the root file system, so that runc's
// pivot_root works (see package boot for why it matters):
//
//  1. mounts a tmpfs at newRoot (a directory in /, created if needed);
//  2. moves every file of the initramfs into it, deleting each file as
//     soon as it is copied, so memory peaks at the initramfs plus its
//     largest file instead of twice the initramfs; entries for which drop
//     returns true (paths relative to /, such as "lib/modules" once the
//     modules are loaded) are deleted without being copied;
//  3. moves the mounts on top-level directories (/proc, /sys, /dev, /run)
//     into the new root, with everything mounted below them;
//  4. makes the tmpfs the root: mount --move it onto /, chroot, chdir.
//
// The caller should then exec itself from the new root, which frees the
// memory of its own (deleted) binary.
func MoveRootToTmpfs(newRoot string, drop func(rel string) bool) (MoveStats, error) {
	start := time.Now()
	if !path.IsAbs(newRoot) || path.Dir(newRoot) != "/" {
		return MoveStats{}, fmt.Errorf("new root %q must be a directory in /", newRoot)
	}
	if err := os.MkdirAll(newRoot, 0o755); err != nil {
		return MoveStats{}, fmt.Errorf("create %s: %w", newRoot, err)
	}
	if err := unix.Mount("tmpfs", newRoot, "tmpfs", 0, "mode=0755"); err != nil {
		return MoveStats{}, fmt.Errorf("mount tmpfs on %s: %w", newRoot, err)
	}
	st, err := moveTree("/", newRoot, drop)
	if err != nil {
		return st, fmt.Errorf("move the initramfs into %s: %w", newRoot, err)
	}
	mounts, err := topLevelMounts(newRoot)
	if err != nil {
		return st, err
	}
	for _, m := range mounts {
		target := filepath.Join(newRoot, m)
		if err := os.MkdirAll(target, 0o755); err != nil {
			return st, fmt.Errorf("create %s: %w", target, err)
		}
		if err := unix.Mount(m, target, "", unix.MS_MOVE, ""); err != nil {
			return st, fmt.Errorf("move mount %s to %s: %w", m, target, err)
		}
	}
	if err := unix.Chdir(newRoot); err != nil {
		return st, fmt.Errorf("chdir %s: %w", newRoot, err)
	}
	if err := unix.Mount(newRoot, "/", "", unix.MS_MOVE, ""); err != nil {
		return st, fmt.Errorf("move %s onto /: %w", newRoot, err)
	}
	if err := unix.Chroot("."); err != nil {
		return st, fmt.Errorf("chroot: %w", err)
	}
	if err := unix.Chdir("/"); err != nil {
		return st, fmt.Errorf("chdir /: %w", err)
	}
	st.Took = time.Since(start)
	return st, nil
}

// topLevelMounts returns the mount points directly below / (such as
// /proc), except skip.
func topLevelMounts(skip string) ([]string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("read mount table: %w", err)
	}
	defer f.Close()
	infos, err := ParseMountInfo(f)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []string
	for _, i := range infos {
		mp := i.MountPoint
		if mp == "/" || mp == skip || path.Dir(mp) != "/" || seen[mp] {
			continue
		}
		seen[mp] = true
		out = append(out, mp)
	}
	sort.Strings(out)
	return out, nil
}

// moveTree moves the tree at src into dst (an empty directory on another
// file system), file by file, deleting each source entry once copied.
// Directories on another device than src (mount points) are recreated
// empty, not entered; dst itself is skipped; entries whose path relative to
// src drop accepts are deleted, not copied. Ownership, permissions
// (including set-id bits), modification times, symbolic links, device
// nodes and hard links are kept.
func moveTree(src, dst string, drop func(rel string) bool) (MoveStats, error) {
	var root unix.Stat_t
	if err := unix.Lstat(src, &root); err != nil {
		return MoveStats{}, fmt.Errorf("stat %s: %w", src, err)
	}
	m := &mover{dev: root.Dev, dst: filepath.Clean(dst), drop: drop, links: map[uint64]string{}}
	err := m.dir(filepath.Clean(src), m.dst, "")
	return m.st, err
}

type mover struct {
	dev   uint64
	dst   string
	drop  func(rel string) bool
	links map[uint64]string // inode -> first copy, for hard links
	st    MoveStats
}

func (m *mover) dir(srcDir, dstDir, rel string) error {
	ents, err := os.ReadDir(srcDir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		sp, dp, r := filepath.Join(srcDir, e.Name()), filepath.Join(dstDir, e.Name()), path.Join(rel, e.Name())
		if sp == m.dst {
			continue
		}
		var st unix.Stat_t
		if err := unix.Lstat(sp, &st); err != nil {
			return fmt.Errorf("stat %s: %w", sp, err)
		}
		if st.Dev != m.dev {
			// A mount point: recreate it; its mount is moved later.
			if err := os.Mkdir(dp, os.FileMode(st.Mode&0o777)); err != nil && !errors.Is(err, os.ErrExist) {
				return err
			}
			continue
		}
		if m.drop != nil && m.drop(r) {
			if err := removeSameDev(sp, m.dev); err != nil {
				return err
			}
			m.st.Dropped++
			continue
		}
		if err := m.entry(sp, dp, r, &st); err != nil {
			return err
		}
	}
	return nil
}

func (m *mover) entry(sp, dp, rel string, st *unix.Stat_t) error {
	mode := st.Mode & unix.S_IFMT
	switch mode {
	case unix.S_IFDIR:
		if err := os.Mkdir(dp, 0o700); err != nil {
			return err
		}
		if err := m.dir(sp, dp, rel); err != nil {
			return err
		}
		m.st.Dirs++
		// Fails (harmlessly) if a mount point remains inside.
		_ = unix.Rmdir(sp)
	case unix.S_IFREG:
		// A hard link to a file already moved: its first name is gone from
		// the source by now (so st.Nlink has dropped), but no new file can
		// take the inode number while the source still links it.
		if first, ok := m.links[st.Ino]; ok {
			if err := os.Link(first, dp); err != nil {
				return err
			}
			return unix.Unlink(sp)
		}
		if st.Nlink > 1 {
			m.links[st.Ino] = dp
		}
		if err := m.copyFile(sp, dp); err != nil {
			return err
		}
		m.st.Files++
		m.st.Bytes += st.Size
	case unix.S_IFLNK:
		target, err := os.Readlink(sp)
		if err != nil {
			return err
		}
		if err := os.Symlink(target, dp); err != nil {
			return err
		}
		m.st.Others++
	default: // devices, fifos, sockets
		if err := unix.Mknod(dp, st.Mode, int(st.Rdev)); err != nil {
			return fmt.Errorf("mknod %s: %w", dp, err)
		}
		m.st.Others++
	}
	if err := m.attrs(dp, st, mode == unix.S_IFLNK); err != nil {
		return err
	}
	if mode != unix.S_IFDIR {
		return unix.Unlink(sp)
	}
	return nil
}

func (m *mover) copyFile(sp, dp string) error {
	in, err := os.Open(sp)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("copy %s: %w", sp, err)
	}
	return out.Close()
}

// attrs sets owner, then mode (chown clears set-id bits), then times.
func (m *mover) attrs(p string, st *unix.Stat_t, symlink bool) error {
	if err := unix.Lchown(p, int(st.Uid), int(st.Gid)); err != nil && !errors.Is(err, unix.EPERM) {
		return fmt.Errorf("chown %s: %w", p, err)
	}
	if !symlink {
		if err := unix.Chmod(p, st.Mode&0o7777); err != nil {
			return fmt.Errorf("chmod %s: %w", p, err)
		}
	}
	ts := []unix.Timespec{st.Atim, st.Mtim}
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, p, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("set times of %s: %w", p, err)
	}
	return nil
}

// removeSameDev removes p and what it holds, without crossing into other
// file systems.
func removeSameDev(p string, dev uint64) error {
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		return err
	}
	if st.Dev != dev {
		return nil
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		ents, err := os.ReadDir(p)
		if err != nil {
			return err
		}
		for _, e := range ents {
			if err := removeSameDev(filepath.Join(p, e.Name()), dev); err != nil {
				return err
			}
		}
		if err := unix.Rmdir(p); err != nil && !errors.Is(err, unix.ENOTEMPTY) && !errors.Is(err, unix.EBUSY) {
			return err
		}
		return nil
	}
	return unix.Unlink(p)
}

// AttachConsole makes /dev/console the standard input, output and error
// of the process, so that what PID 1 and the Go runtime (panics) write
// reaches the guest's console (hvc0) even when the kernel could not open
// it before /dev was mounted.
func AttachConsole() (*os.File, error) {
	fd, err := unix.Open("/dev/console", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open /dev/console: %w", err)
	}
	for _, target := range []int{0, 1, 2} {
		if fd == target {
			continue
		}
		if err := unix.Dup3(fd, target, 0); err != nil {
			unix.Close(fd)
			return nil, fmt.Errorf("dup /dev/console to fd %d: %w", target, err)
		}
	}
	return os.NewFile(uintptr(fd), "/dev/console"), nil
}
