// Package task is containerd's task service for runxen: the RPCs
// containerd (1.7 and 2.x) calls on the shim, answered by running each
// container in a Xen guest through runtime/sandbox and the guest agent.
//
// What this package owns: the containers and processes of one shim and
// their states, the order of their events, the host-side OCI hooks and the
// network namespace holder around a container's life, the root file
// system mount, and mapping every error to containerd's errdefs at the
// RPC edge. It registers one implementation under both
// containerd.task.v2.Task (containerd 1.7, and 2.x with bootstrap version
// 2) and containerd.task.v3.Task.
//
// Grouping: the service keeps containers by ID, each pointing at the
// sandbox (guest) it runs in; today every container gets its own sandbox
// and its own shim, and a pod can later route several containers to one
// shim and one guest without changing this structure (sandboxIDFor).
//
// PIDs: guest PIDs mean nothing on the host, so the task's PID, every
// exec's PID and Pids are the network namespace holder's host PID (the
// process whose /proc/<pid>/ns/net is the container's network namespace,
// which Docker's SetKey and the hooks' state need). docs/design/shim.md
// says what `docker top` shows therefore.
//
// Events follow containerd's runc shim's rules: a process's start event
// before its exit event, every exec's exit before the init's, the exit
// only once the process's output was delivered, the delete last.
package task
