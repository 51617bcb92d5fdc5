// Package ring implements the one byte ring used over peer-shared memory:
// free-running uint32 producer and consumer indices over a power-of-two byte
// area, the layout of libxenvchan's rings and of the Xen 9pfs data rings.
//
// What this package owns: moving bytes between a local buffer and a ring in
// memory that another domain can write at any time. It does not own the
// memory (gnttab maps or shares it), the wakeups (evtchn), or any protocol on
// top (vchan, 9pfs); a Reader or Writer never blocks.
//
// Why our own: no Go library for Xen shared-memory rings exists, and the
// memory is hostile. The peer may change any index or any data byte at any
// moment, so this package:
//
//   - keeps its own index in local memory and only publishes it (the peer's
//     copy of our index is never read back after construction);
//   - loads the peer's index exactly once per operation, with an atomic load,
//     into a local, and validates it: a ring claiming more than its size in
//     flight is reported as ErrCorrupt, never a panic or an out-of-bounds
//     access;
//   - copies data out of (or into) the ring exactly once, straight from or
//     to the caller's buffer, so callers validate a private copy;
//   - orders accesses with sync/atomic loads and stores, which Go defines as
//     sequentially consistent: the producer's data writes happen before its
//     index store, the consumer's data reads happen after its index load and
//     before its index store.
//
// Writer.WriteWhole publishes a buffer entirely or not at all, for protocols
// whose consumer trusts a length header as soon as it sees one (the Linux
// 9pfs frontend reads a whole reply once its header is in the ring).
//
// A Reader (consumer side) and a Writer (producer side) are each meant to be
// used by one goroutine at a time; the layer above serialises access.
package ring
