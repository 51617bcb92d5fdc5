// Package ocispec translates a container's OCI runtime spec, as the engine
// wrote it for runc on the host, into what runxen needs to run it in a Xen
// guest: the domain's shape (memory, vCPUs, scheduling), the 9P shares
// that carry host directories into the guest, and the spec the guest agent
// gets.
//
// What this package owns: the rule for every spec field, and finding
// every field a guest cannot honour before any domain exists. It touches
// no domain, share or mount (runtime/sandbox does); it only stats bind
// sources. It is a pure function of its inputs otherwise, and fuzzed.
//
// The rule for each field is one of: pass it to the guest unchanged (runc
// in the guest honours it with the same meaning); turn it into something
// the host does (a share, the domain's size); drop it with a note, only
// where runc on the host would give the container nothing it can observe
// that the guest does not; or refuse it with a FieldError naming the
// field. The guest's own checks (guest-agent/speccheck) run here too, on
// the translated spec, so the agent never gets a spec it refuses.
//
// # Domain shape
//
//   - linux.resources.memory.limit: the container's memory, rounded up to
//     whole MiB (config guest.memory_mib when unset, 0 or -1); the domain
//     gets guest.memory_overhead_mib more. The limit also stays in the
//     guest's spec, so the guest's memory cgroup enforces exactly what was
//     asked and an OOM kill is reported as with runc. Below
//     guest.min_memory_mib: refused.
//   - linux.resources.cpu.quota/period: vCPUs = ceil(quota/period) and a
//     Xen cap of ceil(100*quota/period) percent of a CPU; the quota also
//     stays in the guest's CPU cgroup.
//   - linux.resources.cpu.cpus: vCPUs = the number of CPUs listed (the
//     smaller of the two when a quota is set too); the domain's vCPUs are
//     pinned to those host CPUs, and the field is removed from the guest's
//     spec, where the container gets every vCPU. Neither set:
//     guest.vcpus. At most xen.MaxVCPUs.
//   - linux.resources.cpu.shares: the domain's Xen weight (shares/4, so
//     cgroup's default 1024 is Xen's default 256); also kept in the guest.
//   - linux.resources.cpu.mems: refused (a PV guest has no host NUMA
//     placement).
//
// # Shares and mounts
//
//   - The root file system (Options.RootfsDir) is share "rootfs"; root.path
//     becomes its guest mount point, root.readonly stays (runc in the
//     guest remounts it read-only).
//   - proc, sysfs, tmpfs, devpts, mqueue, cgroup, cgroup2 mounts stay in the
//     guest unchanged: each shows the container's own kernel objects,
//     which the guest kernel provides.
//   - A bind of a host directory: one share per distinct (directory,
//     read-only) pair, tags vol0, vol1...; the guest's spec binds the
//     share's mount point onto the destination with the original options.
//     A read-only bind gets a read-only share: a hostile guest cannot
//     write there either.
//   - A bind of a host file (Docker's and nerdctl's /etc/hosts,
//     /etc/resolv.conf, /etc/hostname; -v file:file): 9P serves
//     directories, and the file's own directory may hold what the
//     container must not see (Docker keeps the container's config and
//     log next to its resolv.conf). So the sandbox bind-mounts each file
//     into a staging directory of the container's own under state_dir,
//     shared as "files-ro" or "files-rw", and the guest binds it from
//     there. A bind mount pins the file's inode exactly as runc's bind
//     does: writes go both ways, and a file the host replaces by renaming
//     is seen by neither.
//   - A bind of a host tmpfs onto /dev/shm (Docker's per-container shm)
//     becomes a guest tmpfs of the same size: shared memory is memory, and
//     no process outside the guest could share it.
//   - Refused: binds from /proc, /sys or /dev (the host kernel's
//     interfaces), of sockets, devices and pipes (nothing carries them to
//     a guest), with shared or rshared propagation (guest mounts cannot
//     propagate to the host), other mount types (overlay, nfs, ...), and
//     relative or missing bind sources.
//
// # Host-only fields
//
//   - hooks: removed; the shim runs them on the host at the points the
//     runtime spec gives.
//   - linux.namespaces[].path of the network namespace: the host's
//     namespace stays with the shim (which holds it for the engine's
//     networking); the guest creates a new one. Any other namespace path
//     (--ipc, --pid, --uts container:X or host): refused, since no host
//     or other-container process shares the guest's kernel.
//   - linux.cgroupsPath: removed (the host's; the agent picks the guest's).
//   - process.apparmorProfile: the engines' default profiles
//     (docker-default, nerdctl-default, ...) and "unconfined" are dropped:
//     they guard a kernel shared with the host, and the guest's kernel is
//     its own. Any other profile is a deliberate choice: refused.
//   - process.selinuxLabel, linux.mountLabel: container-selinux's default
//     types (container_t, container_file_t, spc_t) are dropped for the
//     same reason; others refused.
//   - linux.devices: refused (the guest has none of the host's devices;
//     docker run --device and --privileged).
//   - linux.resources.blockIO throttles: the guest has no host block
//     device and all its file I/O goes through its shares, so they become
//     the shares' I/O limits (the lowest rate of each kind), and are
//     removed from the guest's spec. Weights: refused (nothing to weigh
//     against). The io.runxen.io.* annotations win over both
//     (runtime/config).
//   - linux.resources.hugepageLimits: dropped when every limit is 0 (a PV
//     guest has no huge pages, which is what a 0 limit says), else refused.
//
// Everything else (process, env, user, cwd, rlimits, capabilities,
// hostname, sysctls, seccomp, masked and read-only paths, user namespace
// mappings, devices cgroup rules, pids, memory reservation and swap, the
// remaining cgroup settings, annotations) passes to the guest unchanged,
// then through speccheck.
package ocispec
