// Package xenstore is a pure-Go client for xenstored, the Xen configuration
// database: the wire protocol of xen/include/public/io/xs_wire.h and
// docs/misc/xenstore.txt, over xenstored's unix socket in dom0 or the
// kernel's /dev/xen/xenbus device in any domain.
//
// What this package owns: framing and validating messages, matching
// replies to requests, demultiplexing watch events, transactions with
// conflict retry, and turning xenstore errno strings into Go errors. It
// does not own the shared-memory ring (the kernel's xenbus driver or
// xenstored does), reconnection, or the meaning of any node: callers (the
// toolstack, vchan, the 9pfs backend) own their paths.
//
// Why our own: the existing Go clients are thin. They lack a transaction
// API (joelnb/xenstore-go has none), demultiplex watch events poorly or
// not at all, and cannot bound a call by a deadline. A runtime that starts
// and stops domains must not hang on a wedged xenstored, must not lose a
// @releaseDomain, and must update several nodes atomically.
//
// Design:
//
//   - One Client is one connection, safe for concurrent use. Requests carry
//     distinct req_ids; one reader goroutine routes each reply to its
//     caller and each WATCH_EVENT to its Watch by token, never blocking on
//     either. One writer goroutine writes whole messages, so requests never
//     interleave on the stream.
//   - Every call takes a context and returns when it ends, even if
//     xenstored never answers; a late reply is discarded. Requests that
//     leave state in xenstored (TRANSACTION_START, WATCH) are undone if
//     their reply arrives after the caller gave up.
//   - Limits are enforced before sending, with errors saying which: the
//     4096-byte XENSTORE_PAYLOAD_MAX (xenstored kills a connection that
//     exceeds it), the 3072/2048-byte path limits, the path character set.
//   - Replies come from a peer we do not fully trust (xenstored can be
//     buggy; in a guest, the other side of the ring is another domain). A
//     header's length is checked against XENSTORE_PAYLOAD_MAX before any
//     allocation, payloads are parsed strictly, and nothing a peer sends
//     can cause a panic: malformed framing ends the connection with
//     ErrProtocol, a malformed reply fails just its call. The parsers are
//     fuzzed.
//   - Watches queue their events in a bounded, coalescing queue; see Watch
//     for the policy.
//   - Transaction retries the whole function on EAGAIN, a bounded number of
//     times, and aborts on error, panic or Goexit.
//
// Errors from xenstored are *Error values carrying the operation, path
// and errno name; they unwrap to syscall.Errno so errors.Is(err,
// fs.ErrNotExist) and errors.Is(err, ErrAgain) work. A failed connection
// makes every call return an error wrapping ErrConnLost.
//
// Package xenstoretest provides an in-memory xenstored speaking the same
// wire protocol, for unit tests of this package and of its users.
package xenstore
