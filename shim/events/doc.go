// Package events delivers the shim's task events to containerd, in order,
// across containerd restarts.
//
// What this package owns: one queue per shim and one goroutine that
// forwards its head to containerd's event service (TTRPC_ADDRESS) and
// retries it, with backoff, until containerd takes it. pkg/shim's
// RemoteEventsPublisher is not used: it requeues a failed event behind the
// ones published after it and drops it after a handful of tries (about 20
// seconds), while containerd needs a task's events in order (its exit
// before its delete, an init's exit after its execs') and may be down for
// longer than that while it restarts. The transport is containerd's own
// ttrpcutil client.
//
// An event containerd answers with an error of its own (it refused the
// event, as opposed to not being there) is dropped and logged: sending it
// again would be refused again and hold up every later event.
package events
