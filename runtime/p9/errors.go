package p9

import (
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
)

// ErrProtocol is wrapped by the error Serve returns when the client broke
// the protocol (a malformed message, a message larger than msize, a tag
// reused while in flight, anything before Tversion): that connection is
// closed, never the server.
var ErrProtocol = errors.New("p9: protocol violation")

// Errnos are Linux's: 9P2000.L carries Linux errno values, and this
// package uses the host's syscall.Errno numbers, which are the same on
// Linux, the only platform that serves 9P here.
const (
	eperm        = syscall.EPERM
	enoent       = syscall.ENOENT
	eio          = syscall.EIO
	ebadf        = syscall.EBADF
	enomem       = syscall.ENOMEM
	efault       = syscall.EFAULT
	einval       = syscall.EINVAL
	emfile       = syscall.EMFILE
	erange       = syscall.ERANGE
	enametoolong = syscall.ENAMETOOLONG
	enosys       = syscall.ENOSYS
	eopnotsupp   = syscall.EOPNOTSUPP
	e2big        = syscall.E2BIG
	eproto       = syscall.EPROTO
)

// maxErrno is the largest errno Linux accepts in an Rlerror (MAX_ERRNO).
const maxErrno = 4095

// errnoOf is the errno sent for err: the Errno it carries, exactly, or EIO.
func errnoOf(err error) syscall.Errno {
	var e syscall.Errno
	if errors.As(err, &e) && e > 0 && e <= maxErrno {
		return e
	}
	return eio
}

// checkName refuses every name that is not exactly one path component, so
// no File ever sees "..", a separator or a NUL.
func checkName(name string) error {
	if len(name) > MaxNameLength {
		return enametoolong
	}
	if name == "" || name == "." || name == ".." {
		return einval
	}
	for i := 0; i < len(name); i++ {
		if name[i] == '/' || name[i] == 0 {
			return einval
		}
	}
	return nil
}

// isClosed reports whether a transport error only means the connection
// ended.
func isClosed(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, io.ErrClosedPipe) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// remoteError is an Rlerror as the client returns it: it unwraps to the
// errno, so errors.Is(err, unix.ENOENT) works.
type remoteError struct {
	op    MsgType
	errno syscall.Errno
}

func (e *remoteError) Error() string { return fmt.Sprintf("p9: %v: %v", e.op, e.errno) }
func (e *remoteError) Unwrap() error { return e.errno }
