// Package manager is the shim binary's life outside the task service, as
// containerd's pkg/shim drives it: `start` (spawn the long-running shim on
// a fresh socket and tell containerd where it is), `delete` (clean up
// after a shim that died) and `-info`.
//
// # The start reply
//
// containerd 1.7 (Docker 26's) reads the reply of `start` as JSON with a
// version no greater than 2, or else as a plain address; containerd 2.x
// accepts the same, and from 2.3 also a protobuf BootstrapResult, which
// 1.7 would take for a garbage address. runxen pins pkg/shim at v2.2.x,
// whose reply is JSON, and answers version 2: both containerd lines then
// speak the task API v2 to the shim (the service also registers v3, for
// a later switch). Nothing may reach stderr during `start`: containerd
// 1.7 reads stdout and stderr together, and any log line would become
// part of the address.
//
// # Sockets and grouping
//
// The shim listens on pkg/shim's socket address for (containerd address,
// namespace, group). Today the group is the container's ID, one shim per
// container. A pod issue will derive it from the sandbox annotation: a
// `start` for a group whose shim already listens then answers that shim's
// address, as containerd's runc shim does.
package manager
