//go:build linux

package sharefs

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/runxen/runxen/runtime/p9"
)

// session is one connection's view of a share: the p9 Attacher, the budget
// of host descriptors its files hold, and the context its I/O waits under
// (cancelled when the connection ends, so waits for the I/O limits give up).
type session struct {
	share    *Share
	ctx      context.Context // ends with the connection
	maxFiles int64
	files    atomic.Int64 // host descriptors held by this session's files
}

var _ p9.Attacher = (*session)(nil)

// Attach implements p9.Attacher: the root of the share, for files created
// through it to belong to uid (Linux attaches once per user with its
// default access=user). Without a uid, files belong to the server's own
// user (root in dom0); the user name is not looked up.
func (s *session) Attach(_ string, uid p9.UID) (p9.File, error) {
	if !uid.Ok() {
		uid = p9.UID(os.Geteuid())
	}
	if err := s.acquire(1); err != nil {
		return nil, err
	}
	fd, err := unix.FcntlInt(uintptr(s.share.rootFD), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		s.release(1)
		return nil, errnoErr("attach", err)
	}
	st, err := fstat(fd)
	if err != nil {
		unix.Close(fd)
		s.release(1)
		return nil, errnoErr("attach", err)
	}
	return s.newFile(fd, &st, uid), nil
}

// acquire takes n descriptors from the session's budget.
func (s *session) acquire(n int64) error {
	if s.files.Add(n) > s.maxFiles {
		s.files.Add(-n)
		return fmt.Errorf("session holds %d host descriptors: %w", s.maxFiles, unix.ENFILE)
	}
	return nil
}

func (s *session) release(n int64) { s.files.Add(-n) }

// waitRead and waitWrite apply the share's I/O limits to one operation.
func (s *session) waitRead(n int) error {
	if err := s.share.cfg.Limiter.WaitRead(s.ctx, n); err != nil {
		return fmt.Errorf("i/o limit: %w", unix.EINTR)
	}
	return nil
}

func (s *session) waitWrite(n int) error {
	if err := s.share.cfg.Limiter.WaitWrite(s.ctx, n); err != nil {
		return fmt.Errorf("i/o limit: %w", unix.EINTR)
	}
	return nil
}

// qidPath maps an inode to a QID path. Inodes of the share's own file
// system map to their number; an inode on a file system mounted inside the
// share gets its device mixed into the high bits, so the two rarely collide.
func (s *session) qidPath(dev, ino uint64) uint64 {
	if dev == s.share.rootDev {
		return ino
	}
	d := dev * 0x9e3779b97f4a7c15 // spread the device number
	return ino ^ (d &^ (1<<40 - 1))
}

func (s *session) qid(st *unix.Stat_t) p9.QID {
	return p9.QID{
		Type: p9.FileMode(st.Mode).QIDType(),
		Path: s.qidPath(st.Dev, st.Ino),
	}
}
