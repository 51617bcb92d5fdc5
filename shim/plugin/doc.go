// Package plugin wires the shim to runxen's runtime: it registers the
// task service as pkg/shim's ttrpc plugin with its real environment
// (guests from runtime/sandbox, the network namespace holder from
// runtime/netns, hooks from shim/hooks, rootfs mounts through containerd's
// mount package, events through shim/events), and gives the manager the
// clean-up of a dead shim's leftovers.
package plugin
