// Package shares owns the shares of one guest domain as the shim uses them:
// the container's root file system and each volume, every one a host
// directory served by its own file server (runtime/sharefs) and carried to
// the guest by its own 9pfs device (runtime/xen9pfs), all of them on the
// domain's one xen9pfs.Backend.
//
// What this package owns: which shares a domain has (tag, host directory,
// read-only, I/O limits), the file server and the device of each, their
// life together (a device that ends takes nothing else down; Close takes
// everything down), Sync over all of them, and live I/O limits. It does not
// speak 9P (sharefs does), move messages (xen9pfs does), create or destroy
// domains (runtime/xen), or mount anything in the guest (the guest agent's
// MountShare does, once the shim asked it to).
//
// # How the shim uses a Set
//
//	set, _ := shares.New(ctx, shares.Config{Store: xs, Domain: domid,
//		DomainExited: xen9pfs.ToolstackExited(ts)})
//	set.Add(ctx, shares.Spec{Tag: "rootfs", Dir: bundle + "/rootfs"})   // domain paused
//	set.Add(ctx, shares.Spec{Tag: "vol-data", Dir: "/srv/data", ReadOnly: true})
//	ts.Unpause(ctx, domid)
//	set.WaitConnected(ctx)          // bounded; a clear error if the guest never connects
//	agent.MountShare(tag, target)   // per share, in the guest
//	...
//	agent.SyncFS; set.Sync(ctx)     // Pause, docker commit
//	set.SetLimits("rootfs", limits) // docker update, while running
//	...
//	set.Close()                     // after the domain is destroyed, or instead of it
//
// Shares are added while the domain is paused, before it first runs: the
// guest kernel then finds every device when it loads 9pnet_xen at boot, and
// the agent can mount them as soon as it answers. Adding to a running
// domain works too (the guest probes the new device), but the shim has no
// reason to.
//
// # Flushing
//
// What a guest wrote reaches the host directory in two steps: the guest's
// page cache writes it back to the file server (the agent's SyncFS, a
// sync(2) in the guest; with cache=none there is nothing to write back),
// and the host's own cache writes it to disk (Sync: each server waits for
// the requests in flight and syncfs()es its directory). docker commit and
// docker cp read the host directory through the host's cache, so after
// SyncFS they already see everything; Sync makes it durable, which Pause
// and commit want as well.
//
// # Failures
//
// A device ends for a reason xen9pfs reports: the frontend broke the
// protocol (a hostile or buggy guest), the file server failed, the guest
// closed it, the domain died, or Close. A failure is logged at error level
// with the share's tag and directory and ends that share only: the
// domain's other shares keep serving, and Status shows which share ended
// and why. The share's file server stays open until Close, so Sync still
// flushes its directory.
//
// Close removes every device's xenstore nodes, unmaps every grant and
// unbinds every event channel, whether or not the domain still exists (a
// domain that died first already took its devices down through xen9pfs's
// @releaseDomain watch). A process that died without Close leaves nodes
// that xen9pfs.RemoveAll removes.
package shares
