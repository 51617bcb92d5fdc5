// Package server serves the Agent ttrpc service: on the guest's vchan to
// dom0, or on a unix socket off Xen (tests, development). It owns the
// transport's lifecycle, not the service.
//
// Reconnection. The vchan Listener serves one connection at a time at the
// agent's xenstore path (agent.AgentVchanPath(own domid)); when the
// connection closes, the next Accept publishes a fresh vchan at the same
// path so dom0 can reconnect. ttrpc closes a connection when reading from
// it returns EOF; but on any other read error (a peer that corrupted the
// ring indices, garbage that breaks framing mid-message) it only stops
// reading, and keeps the connection open while calls are in flight, which
// a long-poll always is. Every accepted connection is therefore wrapped so
// that any read error reads as an unexpected EOF: ttrpc then closes it at
// once, cancels the calls in flight, and the Listener re-publishes. If the
// Listener itself fails (xenstore down, grants exhausted), Serve builds a
// new one, with backoff, for as long as the agent runs.
//
// Errors. Handlers return errdefs-wrapped errors; the interceptor here is
// the one place that converts them to gRPC status codes (errgrpc), and the
// one place that turns a handler panic into an Internal error instead of a
// dead guest.
//
// Ring sizes. The guest is the vchan server, so it grants the rings and
// chooses their sizes (up to 1 MiB each, order 20). Guest to dom0
// (SendRing, 1 MiB): that is where bulk data goes (stdout and stderr in
// replies of up to 1 MiB), and a ring that holds a whole reply lets it
// cross with one notification instead of one per ring-full (with
// libxenvchan's 2 KiB default, a 1 MiB reply takes about 500 wakeups of
// both domains; Qubes measured 850 MB/s guest to dom0 with 64 KiB rings,
// limited by exactly these round trips). dom0 to guest (RecvRing, 256
// KiB): requests are small except WriteStdin, which a 256 KiB ring still
// moves in four ring-fulls per MiB. The cost is 1.25 MiB of guest memory
// and 320 grant references, fixed per guest, against a grant table of
// thousands of entries. TestRingSizeNotifications measures the
// notifications per MiB for these sizes against the in-page default.
package server
