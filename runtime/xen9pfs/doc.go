// Package xen9pfs is the backend side of Xen's 9pfs paravirtual transport
// (xen docs/misc/9pfs.pandoc and include/public/io/9pfs.h, version 1): it
// lets a guest mount a share of dom0's with
//
//	mount -t 9p -o trans=xen,version=9p2000.L,msize=N <tag> <dir>
//
// What this package owns: the device's xenstore nodes (backend and
// frontend, written in one transaction with the guest owning its side),
// the XenbusState handshake, mapping each ring's interface and data pages
// and binding its event channel, moving whole 9P messages between the
// rings and a file server, and tearing all of it down. It does not speak
// 9P: a Handler (runtime/sharefs) does, over one io.ReadWriteCloser per
// connection. It does not create domains (runtime/xen) and builds on the
// project's xenstore client, grant and event channel devices (through
// Devices, as vchan does) and the validated byte ring of package ring.
//
// Why our own: no usable backend exists. Xen's xen-9pfsd speaks 9P2000.u
// only, lacks wstat, remove, xattrs, locks and symlinks, and was measured
// failing a 9p2000.L mount at once; QEMU's backend costs a QEMU per guest
// and, measured with Debian's qemu-system-xen for a PV guest, never
// connects. No Go implementation of the transport exists.
//
// # Lifecycle
//
// One Backend serves one guest domain. Add creates a device per share
// (the rootfs and each volume: Linux mounts one share per device, chosen
// by tag), typically while the domain is still paused; the guest kernel
// probes it when it boots or loads 9pnet_xen:
//
//	backend InitWait (written by Add, with versions, max-rings,
//	                  max-ring-page-order)
//	frontend Initialised -> backend maps, binds, serves; backend Connected
//	frontend Connected   -> WaitConnected returns
//	frontend Closing     -> backend stops, unmaps, unbinds; backend Closing
//	frontend Closed      -> backend Closed; both nodes removed
//
// A device also ends when the domain exits (@releaseDomain, then
// Config.DomainExited), when its nodes are removed by someone else, when
// Close is called, or when it fails; it then stops serving, waits until
// no goroutine touches the shared pages, unbinds its event channels,
// unmaps its grants and removes its nodes. Nothing is left behind; a
// failure ends that one device, never its siblings or another domain's.
// A guest that never connects makes WaitConnected fail when its context
// ends, saying how far the handshake got.
//
// # What the Linux frontend requires (net/9p/trans_xen.c, Linux 6.12)
//
//   - It sets up its rings when the backend reaches InitWait while its own
//     state is Initialising, so the backend must write InitWait only with
//     its limits in place (Add writes them in one transaction).
//   - versions must list "1"; max-rings must be at least 2 (it always
//     uses exactly 2 rings, and silently never connects otherwise);
//     it uses ring order min(max-ring-page-order, 9) for every ring.
//   - Its largest message (the msize ceiling) is 512 KiB, lowered to half
//     a ring's data area when that is smaller: 512 KiB for order 8 and 9,
//     128 KiB for order 7. That ceiling is global to the guest's 9p
//     transport and only ever lowered, so all of a guest's devices
//     should use the same order.
//   - It reads its tag from its own frontend node; the mount source must
//     equal it.
//   - It sends each request on ring tag % 2, whole: it waits for room for
//     the whole message and publishes out_prod once. Fids are therefore
//     shared by both rings: a device's rings carry one 9P session.
//   - It reads a reply as soon as 7 header bytes are in the in ring and
//     trusts the header's size, without checking that many bytes were
//     published: a backend must publish every reply whole, with one
//     in_prod update (ring.Writer.WriteWhole), and never larger than the
//     negotiated msize.
//   - It signals the event channel after every request and after
//     draining replies, and handles every event by looking at both
//     directions; so the backend signals after publishing replies and
//     after consuming requests (the frontend may be waiting for room).
//   - When the guest shuts down it switches connected devices to Closing
//     and waits up to 5 s for the backend to answer.
//
// # The shared memory is hostile
//
// The guest can change its pages at any time. The interface page's order
// and references are loaded once and checked (1 <= order <=
// MaxRingPageOrder, no zero reference); xenstore values are parsed
// strictly (canonical decimal, bounded: num-rings <= MaxRings); ring
// indices are validated by package ring on every access; each request's
// bytes are copied out exactly once and its size field (7 <= size <= ring
// size) is checked on the private copy; the request half is mapped
// read-only. Memory per ring is bounded by two messages: requests are
// taken from the ring only as fast as the Handler reads them, which is the
// back-pressure the guest feels. A violation tears the device down with
// an error wrapping ErrProtocol or ring.ErrCorrupt. The parsers and the
// message reader are fuzzed.
//
// # Goroutines
//
// Per device, one goroutine follows xenstore and owns the state. Per
// ring, one goroutine owns the event channel (the only one waiting on it)
// and wakes the others; one takes requests out of the out ring. Replies
// are written by the Handler's goroutine in Write. Teardown ends the
// connection, waits for the ring goroutines and any Write to leave the
// rings, closes the event channels and only then unmaps: a touch of an
// unmapped page would kill the process.
//
// Package xen9pfstest plays the Linux frontend over the in-process fakes,
// for tests of this package and of file servers behind it.
package xen9pfs
