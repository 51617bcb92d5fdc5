// Package sharefs is the file server behind a guest's shares: a confined
// 9P2000.L server for one host directory (a container's root file system or
// a volume), run in dom0 as root, that a Xen PV guest mounts over Xen's 9pfs
// transport (package xen9pfs carries the messages).
//
// What this package owns: turning 9P requests into system calls on the
// share, confined to it whatever the guest does; the per-connection bounds
// a hostile guest meets; read-only shares; the share's I/O limits (package
// iolimit does the accounting); and Sync, the flush before Pause and docker
// commit. It does not own the transport, the mount inside the guest, or
// which directories are shared.
//
// Why a file server at all: docker cp, docker diff and docker commit work on
// the host directories (notes: containerd-docker-integration), so guest
// writes must land there, and Xen's own xen-9pfsd (9P2000.u, no chmod,
// rename, xattrs or locks) and QEMU's 9pfs backend (a process per guest,
// broken on the lab's Xen) cannot serve a container root file system.
//
// # The 9P library
//
// The message codec, the server loop and the test client are runtime/p9,
// our own: the guest is untrusted, so every size, count and string it
// sends must be bounded before anything is allocated, modes must pass with
// their setuid and setgid bits, errnos must reach the guest exactly
// (ENODATA, ENOTSUP and ERANGE of xattrs included), and a root file system
// needs Tgetlock and the attaching uid; runtime/p9's package doc says why
// no existing library would do. This package implements p9.File (file,
// one per fid) and p9.Attacher (session, one per connection) and
// configures p9.Server's bounds.
//
// # Serving
//
// New(Config) opens the directory; (*Share).Serve(ctx, conn) runs one 9P
// session over any io.ReadWriteCloser that carries 9P messages as a byte
// stream (a xen9pfs connection, a unix socket, net.Pipe in tests) until the
// peer leaves or ctx ends. A share serves any number of connections; Sync
// waits for in-flight requests and syncfs()es the file system; Close ends
// everything. Limiter().SetLimits changes the I/O limits at once.
//
// # Confinement
//
// Every file the server knows is an open descriptor, never a path. A walk
// opens one name at a time relative to its parent's descriptor with
// O_PATH|O_NOFOLLOW (through openat2 with RESOLVE_BENEATH,
// RESOLVE_NO_SYMLINKS and RESOLVE_NO_MAGICLINKS, so the kernel enforces it
// too); a name that is empty, ".", "..", contains "/" or NUL, or is longer
// than 255 bytes is refused before any system call (twice: by the p9 server
// and by validName). Later operations are system calls on
// that descriptor (fstat, fchownat and utimensat with AT_EMPTY_PATH,
// fchmodat2, readlinkat, fstatfs) or on it as the directory of exactly one
// checked name (openat with O_CREAT|O_EXCL|O_NOFOLLOW, mkdirat, symlinkat,
// mknodat, linkat, renameat2, unlinkat). None of these follows a symlink in
// the name it is given, and none looks at any other name. So:
//
//   - A symlink the guest made (to /, to ../../etc, to a file outside) is
//     only ever opened as itself. Walking "through" it fails (a walk
//     continues only from a directory), as do opening it and creating in
//     it; chmod and xattrs act on the link or are refused, readlink returns
//     the text; the server never resolves it.
//   - ".." is never walked; the guest's kernel resolves it itself.
//   - A directory the guest swaps for a symlink after a walk changes nothing:
//     the fid holds the directory's descriptor, not its name. Renames of
//     directories the guest still holds fids in are as harmless.
//   - Opening a walked file for I/O must not follow a symlink that replaced
//     it. Linux cannot reopen an O_PATH descriptor directly, and re-resolving
//     the name (openat2 with RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS from the
//     parent) would need the parent and name kept current across renames by
//     anyone, and could still reach a different file than the fid's. Instead
//     a regular file is reopened through /proc/self/fd/N: that magic link
//     resolves to exactly the fid's inode, with no name lookup, and does not
//     follow the inode further (a symlink fid reopens as ELOOP). The server
//     checks the inode is a regular file first and that the descriptor it
//     gets has the same device and inode. Directories are reopened as "."
//     of their own descriptor. The same magic link serves xattrs (no xattr
//     call takes an O_PATH descriptor before Linux 6.13), chmod before 6.6,
//     and hard links when the server lacks CAP_DAC_READ_SEARCH. New checks
//     that /proc is procfs.
//   - Hard links: the target is a fid, so it is inside the share; a symlink
//     is linked as itself, never its target. Directories cannot be linked.
//   - Device nodes: mknod of a character or block device is refused with
//     EPERM and logged; FIFOs and sockets are created, but the server never
//     opens anything but regular files and directories (the guest's kernel
//     opens special files itself), so no FIFO can block it and no device
//     node, even one already in an image, can be opened in dom0.
//   - Ownership and mode are stored exactly as the guest sets them, as runc
//     would (the server runs as root): files are created as root and then
//     chowned to the attaching user (or the uid the request names) and
//     chmodded to the exact mode, which also undoes the server's umask.
//   - Extended attributes: user.*, security.capability and POSIX ACLs pass;
//     trusted.* (overlayfs metadata) and other security.* (dom0's LSM
//     labels) are hidden and refused (see xattr_linux.go).
//
// What confinement assumes: the host does not itself move a directory the
// guest holds a fid in out of the share, and puts no mount in the share it
// would not want the guest to reach (the server crosses mount points inside
// the share like any local program). What it does not cover, as with runc:
// host programs that later follow the guest's symlinks or run its setuid or
// capability-bearing files from a volume, and disk space (a host quota's
// job).
//
// # Bounds for a hostile guest
//
// Per connection: the negotiated msize is at most Config.MaxMessageSize (512
// KiB, Xen 9pfs's largest) and at most what the connection reports; at most
// MaxInflight requests (32) are read and handled at once, so goroutines and
// buffers are bounded (a request and a reply buffer each: 32 MiB at worst
// with a 512 KiB msize; an idle share with one attached connection costs
// about 5 KiB of heap, one goroutine and three descriptors, as
// BenchmarkIdleShareMemory measures); at most
// MaxFIDs fids (16384, EMFILE beyond); at most MaxOpenFiles host
// descriptors (32768, ENFILE beyond); xattr values at most 64 KiB each and
// 1 MiB pending in all; walks of at most 16 names; Tread replies within
// msize. Anything but Tversion first, an undecodable message, a message
// larger than msize or a tag reused in flight closes that connection, never
// the server; a panic in a
// handler becomes EFAULT for that request. Errors go back as the Linux errno
// of the failing system call.
//
// # Semantics worth knowing
//
//   - POSIX locks are open-file-description locks on the fid's descriptor
//     (lock_linux.go explains why); blocking requests are answered "blocked"
//     and retried by the client.
//   - Readdir offsets are the kernel's own d_off cookies: stable while the
//     directory changes.
//   - QID paths are inode numbers (mixed with the device for file systems
//     mounted inside the share); QID versions are 0.
//   - Metadata operations count as one read or write operation for the
//     share's I/O limits; reads and writes also count their bytes.
//   - A fid names an inode, not a path: after its name was renamed or
//     unlinked (by the guest or anyone), getattr, setattr, xattrs and I/O
//     act on that inode, as they would locally on an open file (what
//     programs do with an unlinked temporary file); walks and creations in
//     a removed directory fail with the kernel's ENOENT.
package sharefs
