// Package shares is the guest side of runxen's file sharing: it mounts the
// shares dom0 serves over Xen's 9pfs transport (Linux's 9pnet_xen, 9P2000.L)
// where the host asks (MountShare), and flushes the guest's writes to them
// (SyncFS, before dom0 flushes its side for Pause and docker commit).
//
// What this package owns: checking a mount request (the tag's charset, an
// absolute clean target outside the kernel's file systems, msize bounds,
// the cache mode), the 9p mount options and their defaults, creating the
// target without following symbolic links, and refusing a second mount of
// a tag. The host side (dom0's file server, the devices, I/O limits) is
// runtime/shares and runtime/sharefs.
//
// Why a tag is mounted at most once: Linux's Xen 9p transport keeps one
// client per device, and a second mount of the same tag replaces the first
// mount's client (net/9p/trans_xen.c, p9_xen_create), so the first mount's
// replies would go astray. The agent keeps the tags it mounted.
//
// Why the target is opened component by component with O_NOFOLLOW: a
// target may lie inside a share already mounted (a volume inside the
// root file system), whose contents the container controls; a symbolic
// link planted there must not move the mount elsewhere in the guest. The
// mount is made on the opened directory itself (/proc/self/fd/N).
//
// Defaults (docs/design/filesharing.md has the measurements): msize
// DefaultMsize, cache DefaultCache. Linux's 9p client checks permissions
// itself and attaches once per user (access=client, its default for
// 9P2000.L), so dom0's file server sees each file's owner as the guest set
// it.
package shares
