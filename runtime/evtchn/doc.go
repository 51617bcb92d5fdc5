// Package evtchn opens Xen event channels through Linux's /dev/xen/evtchn.
//
// What this package owns: binding, unbinding and notifying event channel
// ports, and waiting for them to fire. It knows nothing of what the events
// mean; vchan and the 9pfs transport build on it.
//
// Why our own: no Go library for Xen event channels exists (libxenevtchn is
// C); the device is a handful of ioctls plus read and write, done here with
// golang.org/x/sys/unix and no cgo.
//
// The device, per Linux drivers/xen/evtchn.c: a read returns the numbers of
// ports that fired, as native-endian uint32s; a port that fired is masked
// until its number is written back (Unmask). One file descriptor delivers
// events for every port bound on it, so a Handle is cheap and the intended
// use is one Handle per consumer (one per vchan, as libxenvchan does): its
// events then need no demultiplexing. If the driver's queue overflows, a
// read fails with EFBIG; Wait resets the queue and reports every port bound
// on the Handle as fired, so callers unmask them and re-check their state,
// which is what a spurious event asks of them anyway.
//
// Waiting goes through Go's network poller: Wait honours the deadline set by
// SetReadDeadline and returns when the Handle is closed from another
// goroutine.
package evtchn

import "errors"

// Port is an event channel port number, local to the domain that bound it.
type Port uint32

// ErrNotSupported is returned on systems without Xen's Linux devices.
var ErrNotSupported = errors.New("evtchn: Xen event channels need Linux")

// DefaultPath is where Linux exposes the event channel device.
const DefaultPath = "/dev/xen/evtchn"
