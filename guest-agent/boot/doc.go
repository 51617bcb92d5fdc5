// Package boot is the agent's main program: it brings a Xen guest up as
// PID 1 (mounts, console, modules, root file system, reaper, signals), then
// serves the Agent API until the guest powers off. Off Xen (tests,
// development) it runs as an ordinary process: a child subreaper, logging
// to stderr, serving on a unix socket.
//
// # The root file system: why the initramfs is moved into a tmpfs
//
// runc jails a container with pivot_root(2), which fails with EINVAL when
// the current root is the kernel's initial root file system (the unpacked
// initramfs, "rootfs"): that mount has no parent to pivot from. Three ways
// out were tried in a QEMU guest (Debian's 6.12 kernel, Debian's runc
// 1.1.5, a 16 MB initramfs, TCG):
//
//   - runc --no-pivot: works, costs nothing, but runc then only chroots,
//     and the container's mount namespace keeps the whole initramfs (the
//     agent, runc, /dev) reachable above its root: a process with
//     CAP_SYS_CHROOT, which Docker grants by default, can climb out of the
//     chroot into the guest's root, outside the container's read-only
//     root, masked paths and mounts. Rejected.
//   - bind-mount / onto a directory and move that onto /: pivot_root then
//     works with no copy at all (measured: runc run succeeds), but the
//     initramfs stays below the container's root in its mount namespace,
//     with every file in it, so the same chroot climb reaches the agent's
//     and runc's binaries, writable. Rejected.
//   - move the initramfs into a tmpfs and make that the root (what
//     switch_root does for a disk root): the initramfs left below is empty,
//     as on any host booted from disk, so a climb out finds nothing.
//     Chosen.
//
// The move copies each file and deletes it at once, so memory peaks at the
// initramfs plus its largest file, not twice the initramfs; the kernel
// modules, already loaded, are deleted instead of copied; and the agent
// then re-executes itself from the tmpfs, which frees the pages of its old
// binary. Measured: about 50 ms for a 40 MiB tree of 300 files on a 2-core
// VM (sysinit.BenchmarkMoveTree, ~870 MB/s); 0.3-0.8 s for a 21 MiB
// initramfs (agent, runc, libraries, a busybox root) booted as PID 1 under
// QEMU's TCG emulation, where the initramfs's pages (Shmem) were 21.2 MiB
// before and after the move. The guest logs the time and free memory at
// each boot.
//
// # Boot sequence (PID 1)
//
// MountBase (proc, sys, devtmpfs, devpts, shm, /run, cgroup2), console on
// fds 0-2 and as the log's output, log level from runxen.log=, modules from
// /etc/runxen/modules.load, move to the tmpfs root, re-exec; then /tmp and
// /run/runxen, the reaper (go-runc's Monitor), runc's capabilities, the
// OOM watcher, the service, and the server on the vchan. SIGTERM, SIGINT
// (ctrl-alt-del, Xen's reboot request) and SIGPWR (/sbin/poweroff linked to
// the agent, which the kernel runs on Xen's power-off request) shut the
// guest down; SIGQUIT and SIGUSR1 dump goroutines to the console.
package boot
