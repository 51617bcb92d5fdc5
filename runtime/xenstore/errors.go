package xenstore

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"syscall"
)

// Sentinel errors. Errors returned by this package wrap them, so test with
// errors.Is. ErrNotExist, ErrPermission and ErrExist are the io/fs
// sentinels themselves: errors.Is(err, fs.ErrNotExist) works too, as does
// errors.Is(err, syscall.ENOENT) for any xenstore errno with a Go name.
var (
	// ErrNotExist: xenstored answered ENOENT.
	ErrNotExist = fs.ErrNotExist
	// ErrPermission: xenstored answered EACCES or EPERM.
	ErrPermission = fs.ErrPermission
	// ErrExist: xenstored answered EEXIST (or ENOTEMPTY), or a watch token
	// is already in use on this Client.
	ErrExist = fs.ErrExist
	// ErrAgain: a transaction conflicted with another writer (EAGAIN).
	// Transaction retries on it; callers see it only once retries run out.
	ErrAgain error = syscall.EAGAIN

	// ErrClosed: the Client (or the Watch) was closed by its owner.
	ErrClosed = errors.New("xenstore: client closed")
	// ErrConnLost: the connection to xenstored failed; every pending and
	// later call on the Client fails with an error wrapping it, and the
	// cause.
	ErrConnLost = errors.New("xenstore: connection lost")
	// ErrProtocol: the peer sent bytes that are not valid xenstore protocol.
	ErrProtocol = errors.New("xenstore: protocol violation")
	// ErrTxDone: a Tx was used after its Transaction function returned.
	ErrTxDone = errors.New("xenstore: transaction already finished")
)

// Error is a failed xenstore operation: either an ERROR reply from
// xenstored, or a request this package refused to send because xenstored
// would reject it (an invalid path, an oversized payload). It unwraps to
// the matching syscall.Errno when Go knows the name, so errors.Is works
// against fs.ErrNotExist, syscall.EAGAIN and friends.
type Error struct {
	Op    string // the operation, lower case: "read", "write", "transaction_end", ...
	Path  string // the path (or domid) it was applied to; may be empty
	Errno string // the xenstore errno name: "ENOENT", "EACCES", "EQUOTA", ...
	// Detail is extra text: what this package found wrong with a request
	// it refused, or any text a xenstored appended after the errno name.
	Detail string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("xenstore ")
	b.WriteString(e.Op)
	if e.Path != "" {
		b.WriteString(" ")
		b.WriteString(e.Path)
	}
	b.WriteString(": ")
	b.WriteString(e.Errno)
	if e.Detail != "" {
		b.WriteString(": ")
		b.WriteString(e.Detail)
	}
	return b.String()
}

// Unwrap returns the syscall.Errno named by Errno, or nil for names Go does
// not know.
func (e *Error) Unwrap() error {
	if n, ok := errnoByName[e.Errno]; ok {
		return n
	}
	return nil
}

// errnoByName covers the xsd_errors table of xs_wire.h (in its order), plus
// EQUOTA, which oxenstored sends for quota violations and which is mapped
// to EDQUOT.
var errnoByName = map[string]syscall.Errno{
	"EINVAL":    syscall.EINVAL,
	"EACCES":    syscall.EACCES,
	"EEXIST":    syscall.EEXIST,
	"EISDIR":    syscall.EISDIR,
	"ENOENT":    syscall.ENOENT,
	"ENOMEM":    syscall.ENOMEM,
	"ENOSPC":    syscall.ENOSPC,
	"EIO":       syscall.EIO,
	"ENOTEMPTY": syscall.ENOTEMPTY,
	"ENOSYS":    syscall.ENOSYS,
	"EROFS":     syscall.EROFS,
	"EBUSY":     syscall.EBUSY,
	"EAGAIN":    syscall.EAGAIN,
	"EISCONN":   syscall.EISCONN,
	"E2BIG":     syscall.E2BIG,
	"EPERM":     syscall.EPERM,
	"EQUOTA":    syscall.EDQUOT,
}

// maxErrnoName bounds the errno name taken from an ERROR reply.
const maxErrnoName = 32

// maxErrorDetail bounds any text kept after the errno name.
const maxErrorDetail = 256

// parseErrorReply turns an ERROR payload "E<something>|" into an *Error.
// The name is the leading run of [A-Z0-9] and must start with 'E'; some
// xenstored versions append ": explanation", kept (sanitised) as Detail.
func parseErrorReply(op, path string, p []byte) (*Error, error) {
	if n := len(p); n > 0 && p[n-1] == 0 {
		p = p[:n-1]
	}
	i := 0
	for i < len(p) && i <= maxErrnoName && (p[i] >= 'A' && p[i] <= 'Z' || p[i] >= '0' && p[i] <= '9') {
		i++
	}
	if i < 2 || i > maxErrnoName || p[0] != 'E' {
		return nil, fmt.Errorf("%w: malformed ERROR reply %s", ErrProtocol, quoteTrunc(p))
	}
	e := &Error{Op: op, Path: path, Errno: string(p[:i])}
	rest := strings.TrimLeft(string(p[i:]), ": ")
	if rest != "" {
		e.Detail = sanitize(rest, maxErrorDetail)
	}
	return e, nil
}

// sanitize keeps printable ASCII of an untrusted string, bounded.
func sanitize(s string, max int) string {
	var b strings.Builder
	for i := 0; i < len(s) && b.Len() < max; i++ {
		c := s[i]
		if c >= 0x20 && c < 0x7f {
			b.WriteByte(c)
		} else {
			b.WriteByte('?')
		}
	}
	return b.String()
}

func quoteTrunc(p []byte) string {
	return "\"" + sanitize(string(p), 64) + "\""
}

// invalid builds the error for a request refused before sending.
func invalid(op, path, errno, detail string) *Error {
	return &Error{Op: op, Path: path, Errno: errno, Detail: detail}
}
