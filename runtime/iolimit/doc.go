// Package iolimit throttles the I/O one share's file server does for its
// guest: read and write bytes per second and read and write operations per
// second, each a token bucket, each changeable while the guest runs.
//
// What this package owns: the accounting and the waiting. It knows nothing of
// 9P or files; the file server (package sharefs) calls WaitRead or WaitWrite
// before each operation with the number of payload bytes it is about to move
// (zero for metadata operations, which count as one operation each).
//
// Why it exists: Xen's blkback has no I/O throttling and a guest's file
// traffic reaches dom0 only through our 9P server, so the server is the one
// place a per-container disk limit (docker run --device-read-bps and
// friends) can be enforced.
//
// # Semantics
//
//   - A zero rate means unlimited. SetLimits takes effect at once: waiters
//     blocked under the old rates recompute their wake-up time, and a rate
//     set to zero releases them.
//   - Each bucket holds at most one second of its rate (the burst), and
//     starts full. An operation takes its tokens when it arrives, even more
//     than the bucket holds; the bucket then goes into debt and the caller
//     (and everyone after it) waits until the debt is repaid. So a request
//     larger than the burst is never refused, only delayed, and callers are
//     served in arrival order.
//   - Tokens are taken before the I/O happens and are not given back if the
//     caller's context ends while it waits (the connection is going away;
//     the share's next operations pay for it, which errs on the side of the
//     limit).
//   - Which operations are "read" and which "write" is the caller's choice;
//     sharefs counts everything that changes the share (create, rename,
//     setattr, fsync, ...) as a write operation and everything else (walk,
//     getattr, readdir, ...) as a read operation.
//
// Arithmetic is in integers (tokens and token-nanoseconds, 128-bit
// intermediates), so long-running shares neither drift nor lose precision.
//
// Tests use a fake Clock (package iolimittest) and never sleep.
package iolimit
