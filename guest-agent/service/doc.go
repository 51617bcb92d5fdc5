// Package service implements the Agent ttrpc service (guest-agent/api/v1)
// on top of a Runtime (runc in the guest): it owns the guest's containers
// and their processes, their stdio buffers, exit statuses, OOM events, and
// the decision to power the guest off.
//
// State: one mutex (Service.mu) guards every container and process field
// named as guarded by it; it is held only for bookkeeping, never across a
// Runtime call, because Runtime calls wait for the reaper, and the reaper
// reports container exits through ProcessExited, which takes Service.mu.
// Commands that change a container (start, pause, resume, update, remove)
// are serialised per container by container.lifecycle; exec starts share
// it, so several execs can start at once but not while the container is
// being paused or removed.
//
// Exits: a process's PID is known only after runc wrote it, by which time
// the process may have exited and been reaped. As containerd's runc shim
// does, the service counts starts in progress, and keeps exits of unknown
// PIDs that arrive while any start is in progress; a start then looks for
// its PID among them.
//
// Runtime commands run on a context detached from the RPC's (with their
// own timeout): if dom0 disconnects mid-call, the command still completes
// and the service's state stays true to the guest's, so the host can
// reconnect and carry on (or remove the container).
//
// Limits of the contract, handled here as well as it allows: a stream
// read, OOM event or exit status whose reply is lost because the
// connection dropped after the handler returned is gone (a read whose
// caller left before it took data takes nothing); there is no call to
// delete an exec, so at most 128 collected execs are kept per container.
//
// Shares: MountShare mounts a share dom0 serves (package shares checks the
// request and makes the mount); a container's root.path is then that
// mount point, or any other path in the guest. SyncFS is sync(2), before
// dom0 flushes its side of the shares.
//
// Errors wrap errdefs sentinels (NotFound for unknown IDs, AlreadyExists,
// FailedPrecondition for a call in the wrong state, InvalidArgument for bad
// input); the ttrpc edge (package server) converts them with errgrpc.
package service
