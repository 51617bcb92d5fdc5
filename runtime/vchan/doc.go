// Package vchan is a pure-Go implementation of Xen's vchan: a byte stream
// between two domains over granted shared memory and one event channel,
// wire-compatible with libxenvchan (xen/include/public/io/libxenvchan.h,
// tools/libs/vchan), so either end may be C (for example Xen's
// vchan-socket-proxy) or this package.
//
// What this package owns: the vchan shared page and its rings, the
// notification protocol, the xenstore handshake (the server publishes
// <path>/ring-ref and <path>/event-channel, the client reads them), and a
// net.Conn over all that, plus a net.Listener so a ttrpc server can Serve on
// a vchan. Grants and event channels come through the Devices interface
// (XenDevices for /dev/xen/*, package vchantest for an in-process fake);
// the byte rings are package ring.
//
// Why our own: no Go vchan (nor a Go gntdev, gntalloc or evtchn library)
// exists, libxenvchan would need cgo, and the runtime and the guest agent
// both need vchan.
//
// # Wire format
//
// The server grants one 4 KiB page holding: left {cons, prod} at 0 (client
// writes, server reads), right {cons, prod} at 8 (server writes, client
// reads), u16 left_order at 16, u16 right_order at 18, u8 cli_live at 20,
// srv_live at 21, cli_notify at 22, srv_notify at 23, and from 24 the grant
// references of separately granted rings (left's, then right's). A ring of
// order 10 lives in the page at 1024, of order 11 at 2048; order 12 to 20
// uses 2^(order-12) more granted pages. Go has no 8-bit atomics: the four
// bytes at 20 are read and changed with 32-bit atomic operations on the
// aligned word, which is atomic with respect to the peer's byte accesses.
//
// Notifications: before sleeping, a side sets a bit in the peer's notify
// byte (NOTIFY_WRITE 1: "tell me when you write", NOTIFY_READ 2: "tell me
// when you read") and re-checks the ring; after writing or reading, a side
// clears that bit in its own notify byte and signals the event channel only
// if it was set. Events are therefore sent only when the peer asked.
//
// Liveness: a live byte is 2 before the client connects, 1 while
// connected, 0 once that side closed. The kernel clears our live byte and
// signals the peer when our mapping disappears (gntalloc / gntdev unmap
// notification), so a crashed process is seen as closed. A dead domain is
// not: the caller watches @releaseDomain and calls PeerGone.
//
// # Half-close and EOF
//
// libxenvchan has no half-close: a live byte of 0 means the peer is gone.
// This package keeps that meaning. Close and CloseWrite both set our live
// byte to 0 and signal the peer; the peer reads what is left in the ring and
// then gets io.EOF, and its Writes fail with ErrPeerClosed (which wraps
// syscall.EPIPE). After CloseWrite this side can still Read what the peer
// had written, and whatever it writes before it notices; it cannot rely on
// more. So CloseWrite suits one-way streams (stdin to a process) and a
// final flush, not a request/response over one half-closed stream. A C peer
// sees exactly what it sees when libxenvchan_close is called.
//
// # Connections and the Listener
//
// One vchan carries exactly one connection. NewServer publishes an
// endpoint; Dial connects to it; WaitConnected tells the server when the
// client came. Once its client has left, a server endpoint marks itself
// closed (srv_live 0), and Dial refuses closed endpoints and endpoints that
// already have a client, so a new client never attaches to a finished
// stream; it waits (through its xenstore watch) for a fresh endpoint.
// Dial does attach to a libxenvchan server whose previous client left
// (cli_live 0, srv_live 1), as vchan-socket-proxy's server mode expects;
// it then drops whatever the server wrote that the previous client never
// read, so the new connection starts with the server's next write.
//
// Listener turns that into a net.Listener for ttrpc's Serve: it serves one
// connection at a time on its xenstore path; when the accepted connection
// has been closed, the next Accept publishes a fresh endpoint at the same
// path (new grants, new port), so a restarted client can reconnect.
//
// The client arms its unmap notification only after its setup succeeded,
// so a client that fails half-way does not finish the server's endpoint.
//
// Paths are at most MaxPathLen (49) bytes: libxenvchan formats
// "<path>/event-channel" into a 64-byte buffer and silently cuts longer
// ones, so a C peer would look for (or publish) a different key.
//
// Performance: Read and Write copy straight between the caller's buffer
// and the shared ring (one copy, no per-call allocation), and the event
// channel is signalled only when the peer asked. One goroutine per Conn
// waits on the event channel and wakes blocked readers and writers.
package vchan
