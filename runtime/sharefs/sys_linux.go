//go:build linux

package sharefs

import (
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// This file holds the system calls the file implementation makes, each on a
// file descriptor and never on a path the guest chose. Where Linux has no call
// that takes an O_PATH descriptor (xattrs, reopening a file for I/O, chmod
// before Linux 6.6), the operation goes through /proc/self/fd/N: the kernel
// resolves that magic link to exactly the inode the descriptor refers to,
// without looking up any name and without following the inode further if it
// is itself a symlink (verified in TestProcMagicLinkDoesNotFollow), so a
// guest renaming or replacing names in the meantime cannot redirect it.

// procFD returns the /proc path of fd.
func procFD(fd int) string { return "/proc/self/fd/" + strconv.Itoa(fd) }

// checkProc verifies once that /proc is procfs: everything above relies on
// its magic links.
var checkProc = sync.OnceValue(func() error {
	var st unix.Statfs_t
	if err := unix.Statfs("/proc/self/fd", &st); err != nil {
		return fmt.Errorf("sharefs: /proc/self/fd: %w", err)
	}
	if st.Type != unix.PROC_SUPER_MAGIC {
		return fmt.Errorf("sharefs: /proc is not procfs (magic %#x)", st.Type)
	}
	return nil
})

// errnoErr turns a system call error into an error carrying a Linux errno
// (which the p9 server sends back in Rlerror, exactly) and the operation
// that failed.
func errnoErr(op string, err error) error {
	if err == nil {
		return nil
	}
	var e unix.Errno
	if errors.As(err, &e) {
		if err == error(e) {
			return fmt.Errorf("%s: %w", op, e)
		}
		return err // already wrapped with its context
	}
	return fmt.Errorf("%s: %w (%w)", op, unix.EIO, err)
}

// retryEINTR retries fn while it fails with EINTR. The Go runtime installs
// its signal handlers with SA_RESTART, but a few calls (open of a FIFO,
// fsync on some file systems) can still be interrupted.
func retryEINTR(fn func() error) error {
	for {
		if err := fn(); err != unix.EINTR {
			return err
		}
	}
}

func openat(dirfd int, name string, flags int, mode uint32) (int, error) {
	var fd int
	err := retryEINTR(func() (err error) {
		fd, err = unix.Openat(dirfd, name, flags|unix.O_CLOEXEC, mode)
		return err
	})
	return fd, err
}

// walkOpen opens one name in dirfd as a walk does: O_PATH|O_NOFOLLOW, so a
// symlink is opened as itself. The name is a single checked component, which
// alone keeps the lookup inside dirfd; openat2's RESOLVE_BENEATH,
// RESOLVE_NO_SYMLINKS and RESOLVE_NO_MAGICLINKS make the kernel enforce the
// same should a bad name ever get this far. (Mount points inside the share
// are crossed: the host put them there.)
func walkOpen(dirfd int, name string) (int, error) {
	if !noOpenat2.Load() {
		how := unix.OpenHow{
			Flags:   unix.O_PATH | unix.O_NOFOLLOW | unix.O_CLOEXEC,
			Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
		}
		for range 8 {
			fd, err := unix.Openat2(dirfd, name, &how)
			switch err {
			case unix.EINTR, unix.EAGAIN: // EAGAIN: a concurrent rename; retry
				continue
			case unix.ENOSYS:
				noOpenat2.Store(true)
			default:
				return fd, err
			}
			break
		}
		if !noOpenat2.Load() {
			return -1, unix.EAGAIN
		}
	}
	return openat(dirfd, name, unix.O_PATH|unix.O_NOFOLLOW, 0)
}

// noOpenat2 remembers a kernel older than 5.6.
var noOpenat2 atomic.Bool

func fstat(fd int) (unix.Stat_t, error) {
	var st unix.Stat_t
	err := unix.Fstat(fd, &st)
	return st, err
}

// reopen opens the inode fd refers to with flags, through its /proc magic
// link, and checks the result is the same inode. The caller has checked the
// inode's type (a regular file: reopening anything else could block on a
// FIFO or open a device in dom0).
func reopen(fd int, flags int, want *unix.Stat_t) (int, error) {
	nfd, err := openat(unix.AT_FDCWD, procFD(fd), flags&^unix.O_CREAT|unix.O_NOCTTY, 0)
	if err != nil {
		return -1, err
	}
	st, err := fstat(nfd)
	if err == nil && (st.Dev != want.Dev || st.Ino != want.Ino || st.Mode&unix.S_IFMT != want.Mode&unix.S_IFMT) {
		err = unix.ESTALE
	}
	if err != nil {
		unix.Close(nfd)
		return -1, err
	}
	return nfd, nil
}

// fchmodat2 is Linux 6.6's chmod that takes AT_EMPTY_PATH, so it works on an
// O_PATH descriptor. noFchmodat2 remembers an older kernel.
var noFchmodat2 atomic.Bool

func chmodFD(fd int, mode uint32) error {
	if !noFchmodat2.Load() {
		empty := [1]byte{}
		_, _, e := unix.Syscall6(unix.SYS_FCHMODAT2, uintptr(fd), uintptr(unsafe.Pointer(&empty[0])),
			uintptr(mode), unix.AT_EMPTY_PATH, 0, 0)
		if e != unix.ENOSYS {
			if e == 0 {
				return nil
			}
			return e
		}
		noFchmodat2.Store(true)
	}
	// Before 6.6: chmod through the magic link (the caller refused
	// symlinks, whose modes Linux does not change anyway).
	return unix.Fchmodat(unix.AT_FDCWD, procFD(fd), mode, 0)
}

func chownFD(fd int, uid, gid int) error {
	return unix.Fchownat(fd, "", uid, gid, unix.AT_EMPTY_PATH|unix.AT_SYMLINK_NOFOLLOW)
}

func utimesFD(fd int, ts []unix.Timespec) error {
	return unix.UtimesNanoAt(fd, "", ts, unix.AT_EMPTY_PATH|unix.AT_SYMLINK_NOFOLLOW)
}

// linkFD makes a hard link named newName in newDir to the inode fd refers to
// (never to a symlink's target). AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH;
// without it (tests as a normal user) the magic link does the same.
func linkFD(fd, newDir int, newName string) error {
	err := unix.Linkat(fd, "", newDir, newName, unix.AT_EMPTY_PATH)
	if err == unix.ENOENT && !haveDACReadSearch() {
		err = unix.Linkat(unix.AT_FDCWD, procFD(fd), newDir, newName, unix.AT_SYMLINK_FOLLOW)
	}
	return err
}

var haveDACReadSearch = sync.OnceValue(func() bool {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return false
	}
	const capDACReadSearch = 2
	return data[0].Effective&(1<<capDACReadSearch) != 0
})

func readlinkFD(fd int) (string, error) {
	buf := make([]byte, unix.PathMax)
	n, err := unix.Readlinkat(fd, "", buf)
	if err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}
