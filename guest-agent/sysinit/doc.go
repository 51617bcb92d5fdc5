// Package sysinit holds what a guest's PID 1 does before anything else can
// run: mount the kernel file systems, attach the console, read the kernel
// command line, load the kernel modules the initramfs carries, move the
// initramfs into a tmpfs root (so runc's pivot_root works; see package
// boot for why), reap orphaned children, and power the domain off at the
// end.
//
// The guest has no init system and no modprobe, and each Xen guest runs one
// container, so these few system calls are all the "init" it needs; doing
// them directly keeps /init a single static binary. The system calls are
// Linux-only; other platforms get stubs so the package still builds.
package sysinit
