// Package sandbox turns an OCI bundle into a running Xen guest: one domain
// (a "sandbox") with the runxen agent in it, the container's root file
// system and volumes served to it over 9P, and the container created in
// it, ready to start. It is what the shim drives; it knows nothing of
// containerd.
//
// What this package owns: the order of the steps and their bounds, the
// domain's name, staging bind-mounted host files, and tearing everything
// down, on every failure and on Destroy. It delegates the spec's rules to
// runtime/ocispec, the domain to a xen.Toolstack, the 9P shares to
// runtime/shares, and the connection to the agent to runtime/agentclient.
//
// # Create
//
//  1. Translate the spec (ocispec): every field the guest cannot honour is
//     an error naming it, before anything exists. Check that the guest
//     kernel and initramfs exist.
//  2. Stage bind-mounted host files: each is bind-mounted onto a file in
//     <state_dir>/<namespace>/<id>/<tag>/, the directory that share serves
//     (see ocispec's doc for why).
//  3. Create the domain paused (`xl create -p`): memory, vCPUs and
//     scheduling from linux.resources, named DomainName(namespace, id).
//  4. Add the shares to the paused domain (one xen9pfs backend, a 9pfs
//     device and file server per share), then unpause it.
//  5. Within timeouts.boot: wait for the guest to connect its shares, and
//     connect to the agent (vchan; bounded, and failing at once if the
//     domain dies).
//  6. Mount the shares in the guest (agent MountShare), then
//     CreateContainer with the translated spec. The container is created,
//     not started: the shim starts it.
//
// Any failure tears down what exists (Destroy's path): the agent
// connection, the domain, the shares and their xenstore nodes, the staged
// bind mounts and directories. The error wraps the cause and says which
// step failed.
//
// # Destroy
//
// Destroy asks the agent to flush the guest's writes (SyncFS, bounded,
// skipped if the agent is gone), then closes the connection, destroys the
// domain, closes the shares and removes the staging. Each step that
// succeeds is not repeated; a step that fails is retried by the next
// call, so Destroy can be called until it returns nil.
//
// # Pause, Resume, Update
//
// Pause flushes the guest's writes to the host (agent SyncFS, then the
// shares' Sync) and only then freezes the container (agent
// PauseContainer): docker commit reads the host directories while the
// container is paused. Update translates the new resources (ocispec),
// resizes the domain (xl mem-set/vcpu-set/sched-credit2/vcpu-pin) and the
// guest's cgroup (agent UpdateResources), in the order that never leaves
// the cgroup's limit above the domain's memory, and changes the shares'
// I/O limits.
//
// # Domain names
//
// DomainName is runxen-<namespace>-<id> when that fits Xen's 64
// characters (so `xl list` shows whose domain it is), and otherwise
// runxen-<namespace, cut>-<id, cut>-<8 hex digits of a hash of both>: still
// recognisable (Docker's short ID is in it) and unique. Cleanup destroys
// what a crashed shim left under that name.
package sandbox
