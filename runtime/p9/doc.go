// Package p9 is runxen's 9P2000.L protocol library: the message codec, a
// concurrent server loop that hands requests to a File tree, and a small
// client. runtime/sharefs builds the file server for a guest's shares on
// it; runtime/xen9pfs carries its messages between dom0 and the guest.
//
// What this package owns: the wire format of every 9P2000.L message Linux's
// v9fs sends (Tversion, Tattach, Tauth, Twalk, Tgetattr, Tsetattr, Tlopen,
// Tlcreate, Tread, Twrite, Treaddir, Tmkdir, Tsymlink, Treadlink, Tlink,
// Tmknod, Trename, Trenameat, Tunlinkat, Tremove, Tstatfs, Tfsync,
// Txattrwalk, Txattrcreate, Tclunk, Tflush, Tlock, Tgetlock and their
// replies, Rlerror included); per connection, msize negotiation, the fid
// table, tags and Tflush, and the bounds a hostile client meets. It does
// not own what a file is: a File implementation (sharefs) does every
// system call, and the transport (xen9pfs, a socket, a pipe) moves bytes.
//
// # Why our own
//
// The client of this server is a guest kernel, which is untrusted, and the
// server runs as root in dom0. The Go 9P2000.L libraries we could use (the
// released github.com/hugelgupf/p9, gVisor's p9 before lisafs replaced it)
// fall short of that: they size allocations from the message before
// checking them against what is left, hold unbounded goroutines and memory
// for a client that sends fast, drop setuid and setgid bits from the modes
// a guest sends (a container image's setuid binaries would lose them on
// docker commit), flatten extended attribute errors to EINVAL (ENODATA,
// ENOTSUP and ERANGE are what getfattr, cp -a and tar act on), and lack
// Tgetlock and the attaching user's uid (n_uname), which a root file system
// needs for F_GETLK and for files to belong to who created them. 9P2000.L
// is small (about thirty message types), so we wrote it, from the Linux
// kernel's net/9p and include/net/9p/9p.h, diod's protocol.md and the Plan
// 9 manual pages, with these rules:
//
//   - Every size, count and string is checked against the bytes left in
//     the message (itself at most msize) before anything is allocated; a
//     Twalk of more than 16 names, a string running past the end, trailing
//     bytes or a message larger than msize is a protocol violation.
//   - Modes, uids and gids pass to the File exactly as sent, setuid and
//     setgid included.
//   - A File's error goes back as exactly the errno it carries
//     (syscall.Errno anywhere in its chain), anything else as EIO.
//   - Names are one path component (no "/", NUL, "." or "..", at most 255
//     bytes), checked before any File sees them.
//
// # Serving
//
// Server.Serve runs one connection: the reader takes a token (at most
// MaxInflight requests read and not yet answered), reads one whole message
// of at most msize bytes into a pooled buffer, decodes it and starts a
// goroutine for it; replies are written whole, one at a time, with one
// WriteVectors call when the transport has it. Per connection: msize is
// the smallest of the client's, Server.MaxMessageSize and the transport's
// MaxMessageSize(); at most MaxFIDs fids (EMFILE beyond); at most
// MaxXattrBytes of extended attribute values held (ENOMEM beyond).
//
// Anything but Tversion first, an undecodable message, a message larger
// than msize or a tag reused while its request is in flight closes that
// connection (Serve returns an error wrapping ErrProtocol). Unknown message
// types (9P2000 and 9P2000.u ones, extensions) are answered ENOSYS, Tauth
// EOPNOTSUPP (no authentication: whoever reaches the transport may
// attach). A panic in a handler becomes EFAULT for that request. Tversion
// waits for the requests in flight and starts a new session: every fid is
// dropped. Tflush is answered after the request it names (if still in
// flight) has been answered, so the client always sees that reply first;
// it never waits for another Tflush.
//
// Fids and Files: a walk gives the new fid its own File (File.Walk), an
// xattr fid holds only the value, and a File is closed exactly once, when
// its fid is clunked (or replaced by Tlcreate or a walk onto itself) and
// no request uses it any more. BeginRequest and EndRequest hooks bracket
// every request, for a caller that must wait until none is in progress
// (sharefs's Sync).
//
// # Client
//
// Client speaks the same protocol over any connection; its files implement
// File. It exists for tests (sharefs's suites, hostile-client tests) and
// tools, not for mounting. Package p9test is an in-memory File tree for
// tests that need a server without a host directory.
package p9
