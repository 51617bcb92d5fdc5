// Package speccheck decides whether the guest can honour an OCI runtime spec
// before the agent hands it to runc, and says why not, naming the field.
//
// Why a check of our own when runc validates too: runc only knows what it
// can do, not what makes sense inside a Xen guest that holds exactly one
// container whose host-side parts (OCI hooks, namespaces of other host
// processes, LSM profiles loaded on the host) live in dom0. And the runc in
// the guest (Debian trixie's 1.1.15) silently ignores fields it does not
// know, such as process.ioPriority or linux.timeOffsets: a container would
// start without the limit its user asked for. Every such field is an
// explicit error here, wrapping errdefs.ErrInvalidArgument, so the shim can
// report it and the user can see which field to drop.
//
// The list, and why each entry is on it:
//
//   - hooks.*: OCI hooks run in the runtime namespace, which is dom0; the shim
//     runs them on the host and must strip them from the spec it sends.
//   - linux.namespaces[].path: joining an existing namespace means joining a
//     host process's namespace; there is none in the guest.
//   - namespace types the guest's runc does not know (from `runc features`),
//     and duplicates. A "time" namespace without a path and without
//     linux.timeOffsets is dropped instead when runc cannot create it: the
//     guest boots fresh for each container, so the container already sees
//     clocks no other workload has offset, exactly what an unshared time
//     namespace gives (Docker 29.5 adds one to every spec).
//   - linux.intelRdt, linux.resources.rdma: no RDT or RDMA in a PV guest.
//   - linux.resources.network, memory.kernel, memory.kernelTCP,
//     memory.swappiness, memory.disableOOMKiller=true, memory.useHierarchy=true,
//     blockIO.leafWeight, cpu.realtimeRuntime/realtimePeriod: cgroup v1 only;
//     the guest runs cgroup v2, where runc drops or fails on them.
//   - process.apparmorProfile, process.selinuxLabel, linux.mountLabel: the
//     profiles and policy live on the host; the guest kernel has none loaded.
//     The VM is the isolation boundary; the shim must strip these.
//   - linux.seccomp.listenerPath: the seccomp agent would be a host process.
//   - fields newer than the guest's runc (Capabilities): process.ioPriority,
//     process.scheduler, process.execCPUAffinity, linux.personality,
//     linux.timeOffsets, linux.memoryPolicy, linux.netDevices, idmapped
//     mounts (mounts[].uidMappings), cpu.burst, cpu.idle,
//     memory.checkBeforeUpdate.
//   - windows, solaris, vm, zos, freebsd sections: not a Linux container.
//   - structural errors runc would report less clearly: no process, empty
//     process.args, relative process.cwd, no root or a relative root.path
//     (the bundle is the agent's, so a relative path means nothing), no
//     linux section, an ociVersion other than 1.x.
//
// Everything else (mounts, devices, sysctls, rlimits, capabilities,
// seccomp filters, masked and readonly paths, user and groups, umask,
// oom_score_adj, the rest of linux.resources) goes to runc, which honours
// it or fails with its own error.
package speccheck
