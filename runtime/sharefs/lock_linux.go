//go:build linux

package sharefs

import (
	"math"

	"golang.org/x/sys/unix"

	"github.com/runxen/runxen/runtime/p9"
)

// POSIX record locks are open file description (OFD) locks on the fid's own
// I/O descriptor. Classic fcntl locks would all belong to the server process:
// they would never conflict with each other, and closing any descriptor of a
// file would drop every lock the guest holds on it. With OFD locks, two fids
// (two opens in the guest, or two guests sharing a volume) conflict as two
// processes would, and a fid's locks go away when it is clunked. The guest's
// kernel keeps its own lock table too and asks the server only to arbitrate
// against everyone else, so the pid and client name in the request are not
// needed. A lock the server cannot grant at once is answered "blocked"; the
// Linux client retries blocking requests itself, so no server goroutine
// ever waits on a lock.

func (f *file) flock(typ p9.LockType, start, length uint64) (unix.Flock_t, error) {
	var t int16
	switch typ {
	case p9.ReadLock:
		t = unix.F_RDLCK
	case p9.WriteLock:
		t = unix.F_WRLCK
	case p9.Unlock:
		t = unix.F_UNLCK
	default:
		return unix.Flock_t{}, unix.EINVAL
	}
	if start > math.MaxInt64 {
		return unix.Flock_t{}, unix.EINVAL
	}
	l := unix.Flock_t{Type: t, Whence: 0, Start: int64(start)}
	// Length 0 means "to the end of the file", as does a range reaching
	// past the largest offset.
	if length <= math.MaxInt64-start {
		l.Len = int64(length)
	}
	return l, nil
}

// Lock implements p9.File.Lock.
func (f *file) Lock(flags p9.LockFlags, lock p9.LockInfo) (p9.LockStatus, error) {
	if flags&^(p9.LockBlock|p9.LockReclaim) != 0 {
		return p9.LockError, unix.EINVAL
	}
	l, err := f.flock(lock.Type, lock.Start, lock.Length)
	if err != nil {
		return p9.LockError, err
	}
	if err := f.sess.waitRead(0); err != nil {
		return p9.LockError, err
	}
	fd := int(f.ioFD.Load())
	if fd < 0 {
		return p9.LockError, unix.EBADF
	}
	switch err := unix.FcntlFlock(uintptr(fd), unix.F_OFD_SETLK, &l); err {
	case nil:
		return p9.LockOK, nil
	case unix.EAGAIN, unix.EACCES:
		return p9.LockBlocked, nil
	default:
		return p9.LockError, errnoErr("lock", err)
	}
}

// GetLock implements p9.File.GetLock (Tgetlock, fcntl F_GETLK).
func (f *file) GetLock(want p9.LockInfo) (p9.LockInfo, error) {
	if want.Type == p9.Unlock {
		return p9.LockInfo{}, unix.EINVAL
	}
	l, err := f.flock(want.Type, want.Start, want.Length)
	if err != nil {
		return p9.LockInfo{}, err
	}
	if err := f.sess.waitRead(0); err != nil {
		return p9.LockInfo{}, err
	}
	fd := int(f.ioFD.Load())
	if fd < 0 {
		return p9.LockInfo{}, unix.EBADF
	}
	if err := unix.FcntlFlock(uintptr(fd), unix.F_OFD_GETLK, &l); err != nil {
		return p9.LockInfo{}, errnoErr("getlock", err)
	}
	if l.Type == unix.F_UNLCK {
		want.Type = p9.Unlock
		return want, nil
	}
	got := p9.LockInfo{Type: p9.ReadLock, Start: uint64(l.Start), Length: uint64(l.Len), ProcID: uint32(l.Pid), ClientID: want.ClientID}
	if l.Type == unix.F_WRLCK {
		got.Type = p9.WriteLock
	}
	return got, nil
}
