//go:build linux

package sharefs

import (
	"math"
	"sync"
	"sync/atomic"

	"github.com/containerd/log"
	"golang.org/x/sys/unix"

	"github.com/runxen/runxen/runtime/p9"
)

// file is one node of the share as the server knows it: an O_PATH
// descriptor, never a path. Every operation is a system call on that
// descriptor (fstat, fchownat(AT_EMPTY_PATH), ...) or on it as the directory
// of exactly one name the guest gave (openat, mkdirat, unlinkat, renameat,
// symlinkat, mknodat, linkat), and every name is a single component checked
// by validName first. Nothing is ever resolved from a path string, so no
// symlink, ".." or rename can lead the server outside the share.
type file struct {
	sess   *session
	fd     int    // O_PATH|O_NOFOLLOW, or the I/O descriptor of a created file
	fdIsIO bool   // fd is a created file's I/O descriptor
	typ    uint32 // S_IFMT of the inode; an inode's type never changes
	uid    p9.UID // the attaching user: owner of what is created through us

	// ioFD is the descriptor for I/O once opened, else -1; it may equal
	// fd. Set once by Open or Create and read without locking: the p9
	// server never calls I/O methods before Open or Create returned, nor
	// anything after Close.
	ioFD atomic.Int32

	mu     sync.Mutex // serialises Open, Readdir, truncate and Close
	ioMode int        // O_RDONLY, O_WRONLY or O_RDWR of ioFD; guarded by mu
	closed bool       // guarded by mu
	dir    dirState   // guarded by mu
}

var _ p9.File = (*file)(nil)

// newFile wraps fd, whose budget the caller acquired.
func (s *session) newFile(fd int, st *unix.Stat_t, uid p9.UID) *file {
	nf := &file{sess: s, fd: fd, typ: st.Mode & unix.S_IFMT, uid: uid}
	nf.ioFD.Store(-1)
	return nf
}

func (f *file) readOnly() bool { return f.sess.share.cfg.ReadOnly }

func (f *file) isDir() bool { return f.typ == unix.S_IFDIR }

// validName refuses every name that is not exactly one path component
// before any system call sees it. The p9 server checks the same, and this
// is the second line.
func validName(name string) error {
	if len(name) > 255 {
		return unix.ENAMETOOLONG
	}
	if name == "" || name == "." || name == ".." {
		return unix.EINVAL
	}
	for i := 0; i < len(name); i++ {
		if name[i] == '/' || name[i] == 0 {
			return unix.EINVAL
		}
	}
	return nil
}

// Walk implements p9.File.Walk: each name is opened O_PATH|O_NOFOLLOW
// relative to the previous directory, so a symlink is returned as itself,
// never followed, and cannot be walked through.
func (f *file) Walk(names []string) ([]p9.QID, p9.File, error) {
	if err := f.sess.waitRead(0); err != nil {
		return nil, nil, err
	}
	if len(names) == 0 {
		return f.clone()
	}
	qids := make([]p9.QID, 0, len(names))
	cur, curTyp := f.fd, f.typ
	var st unix.Stat_t
	for i, name := range names {
		if err := validName(name); err != nil {
			f.closeWalk(cur, i)
			return nil, nil, err
		}
		if curTyp != unix.S_IFDIR {
			f.closeWalk(cur, i)
			return nil, nil, unix.ENOTDIR
		}
		if err := f.sess.acquire(1); err != nil {
			f.closeWalk(cur, i)
			return nil, nil, err
		}
		fd, err := walkOpen(cur, name)
		f.closeWalk(cur, i)
		if err != nil {
			f.sess.release(1)
			return nil, nil, errnoErr("walk", err)
		}
		if st, err = fstat(fd); err != nil {
			unix.Close(fd)
			f.sess.release(1)
			return nil, nil, errnoErr("walk", err)
		}
		cur, curTyp = fd, st.Mode&unix.S_IFMT
		qids = append(qids, f.sess.qid(&st))
	}
	return qids, f.sess.newFile(cur, &st, f.uid), nil
}

// closeWalk closes an intermediate descriptor of a multi-name walk (step i
// opened it; step 0's is f's own).
func (f *file) closeWalk(fd, i int) {
	if i > 0 {
		unix.Close(fd)
		f.sess.release(1)
	}
}

// clone is a walk of no names: a new file for the same inode. An O_PATH
// descriptor is duplicated; a created file's I/O descriptor is not (the
// clone would share its open file description, and with it its OFD locks),
// the clone gets an O_PATH descriptor of the same inode instead.
func (f *file) clone() ([]p9.QID, p9.File, error) {
	if err := f.sess.acquire(1); err != nil {
		return nil, nil, err
	}
	var fd int
	var err error
	if f.fdIsIO {
		var st unix.Stat_t
		if st, err = fstat(f.fd); err == nil {
			fd, err = reopen(f.fd, unix.O_PATH, &st)
		}
	} else {
		fd, err = unix.FcntlInt(uintptr(f.fd), unix.F_DUPFD_CLOEXEC, 0)
	}
	if err != nil {
		f.sess.release(1)
		return nil, nil, errnoErr("clone", err)
	}
	nf := &file{sess: f.sess, fd: fd, typ: f.typ, uid: f.uid}
	nf.ioFD.Store(-1)
	return nil, nf, nil
}

// StatFS implements p9.File.StatFS.
func (f *file) StatFS() (p9.FSStat, error) {
	if err := f.sess.waitRead(0); err != nil {
		return p9.FSStat{}, err
	}
	var st unix.Statfs_t
	if err := unix.Fstatfs(f.fd, &st); err != nil {
		return p9.FSStat{}, errnoErr("statfs", err)
	}
	return p9.FSStat{
		Type:            uint32(st.Type),
		BlockSize:       uint32(st.Bsize),
		Blocks:          st.Blocks,
		BlocksFree:      st.Bfree,
		BlocksAvailable: st.Bavail,
		Files:           st.Files,
		FilesFree:       st.Ffree,
		FSID:            uint64(uint32(st.Fsid.Val[0])) | uint64(uint32(st.Fsid.Val[1]))<<32,
		NameLength:      uint32(st.Namelen),
	}, nil
}

// GetAttr implements p9.File.GetAttr.
func (f *file) GetAttr(req p9.AttrMask) (p9.QID, p9.AttrMask, p9.Attr, error) {
	if err := f.sess.waitRead(0); err != nil {
		return p9.QID{}, 0, p9.Attr{}, err
	}
	st, err := fstat(f.fd)
	if err != nil {
		return p9.QID{}, 0, p9.Attr{}, errnoErr("getattr", err)
	}
	attr := p9.Attr{
		Mode:      p9.FileMode(st.Mode),
		UID:       p9.UID(st.Uid),
		GID:       p9.GID(st.Gid),
		NLink:     uint64(st.Nlink),
		RDev:      uint64(st.Rdev),
		Size:      uint64(st.Size),
		BlockSize: uint64(st.Blksize),
		Blocks:    uint64(st.Blocks),
		ATimeSec:  uint64(st.Atim.Sec),
		ATimeNsec: uint64(st.Atim.Nsec),
		MTimeSec:  uint64(st.Mtim.Sec),
		MTimeNsec: uint64(st.Mtim.Nsec),
		CTimeSec:  uint64(st.Ctim.Sec),
		CTimeNsec: uint64(st.Ctim.Nsec),
	}
	return f.sess.qid(&st), p9.AttrBasic, attr, nil
}

// SetAttr implements p9.File.SetAttr. Ownership changes come first, since
// chown clears the setuid and setgid bits, so that a mode set in the same
// request is stored exactly as the guest asked.
func (f *file) SetAttr(valid p9.SetAttrMask, attr p9.SetAttr) error {
	if valid&^p9.SetAttrCTime == 0 {
		return nil // CTime alone needs nothing: the kernel sets it on every change
	}
	if f.readOnly() {
		return unix.EROFS
	}
	if err := f.sess.waitWrite(0); err != nil {
		return err
	}
	if valid&(p9.SetAttrUID|p9.SetAttrGID) != 0 {
		uid, gid := -1, -1
		if valid.Has(p9.SetAttrUID) {
			uid = int(attr.UID)
		}
		if valid.Has(p9.SetAttrGID) {
			gid = int(attr.GID)
		}
		if err := chownFD(f.fd, uid, gid); err != nil {
			return errnoErr("chown", err)
		}
	}
	if valid.Has(p9.SetAttrMode) {
		if f.typ == unix.S_IFLNK {
			return unix.EOPNOTSUPP // Linux keeps symlinks 0777
		}
		if err := chmodFD(f.fd, uint32(attr.Mode.Permissions())); err != nil {
			return errnoErr("chmod", err)
		}
	}
	if valid.Has(p9.SetAttrSize) {
		if err := f.truncate(attr.Size); err != nil {
			return err
		}
	}
	if valid&(p9.SetAttrATime|p9.SetAttrMTime) != 0 {
		ts := []unix.Timespec{{Nsec: unix.UTIME_OMIT}, {Nsec: unix.UTIME_OMIT}}
		if valid.Has(p9.SetAttrATime) {
			ts[0] = setTime(valid.Has(p9.SetAttrATimeSet), attr.ATimeSec, attr.ATimeNsec)
		}
		if valid.Has(p9.SetAttrMTime) {
			ts[1] = setTime(valid.Has(p9.SetAttrMTimeSet), attr.MTimeSec, attr.MTimeNsec)
		}
		if err := utimesFD(f.fd, ts); err != nil {
			return errnoErr("utimes", err)
		}
	}
	return nil
}

// setTime is a time the guest gave, or "now" when it did not give one.
func setTime(given bool, sec, nsec uint64) unix.Timespec {
	if !given {
		return unix.Timespec{Nsec: unix.UTIME_NOW}
	}
	if nsec >= 1e9 || sec > math.MaxInt64 {
		return unix.Timespec{Nsec: unix.UTIME_OMIT}
	}
	return unix.Timespec{Sec: int64(sec), Nsec: int64(nsec)}
}

// truncate sets a regular file's size, through the file's own writable
// descriptor if it has one, else a verified reopen of the inode.
func (f *file) truncate(size uint64) error {
	switch {
	case f.typ == unix.S_IFDIR:
		return unix.EISDIR
	case f.typ != unix.S_IFREG:
		return unix.EINVAL
	case size > math.MaxInt64:
		return unix.EFBIG
	}
	f.mu.Lock()
	fd, own := int(f.ioFD.Load()), false
	if fd < 0 || f.ioMode == unix.O_RDONLY {
		fd, own = -1, true
	}
	f.mu.Unlock()
	if own {
		st, err := fstat(f.fd)
		if err != nil {
			return errnoErr("truncate", err)
		}
		if err := f.sess.acquire(1); err != nil {
			return err
		}
		defer f.sess.release(1)
		if fd, err = reopen(f.fd, unix.O_WRONLY|unix.O_NONBLOCK, &st); err != nil {
			return errnoErr("truncate", err)
		}
		defer unix.Close(fd)
	}
	return errnoErr("truncate", retryEINTR(func() error { return unix.Ftruncate(fd, int64(size)) }))
}

// Close implements p9.File.Close. The p9 server calls it once, when the fid
// holding the file is gone and no request uses it.
func (f *file) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return nil
	}
	f.closed = true
	n := int64(1)
	if io := int(f.ioFD.Swap(-1)); io >= 0 && io != f.fd {
		unix.Close(io)
		n++
	}
	unix.Close(f.fd)
	f.fd = -1
	f.dir = dirState{}
	f.sess.release(n)
	return nil
}

// Open implements p9.File.Open. Only regular files and directories can be
// opened: the guest's kernel handles FIFOs, sockets and device nodes on a 9p
// mount itself, and opening one in dom0 could block the server or touch a
// dom0 device.
//
// A regular file is reopened through /proc/self/fd (see reopen): that opens
// the very inode the fid was walked to, not whatever a name now points at,
// so a symlink the guest swapped in after the walk is never followed. A
// directory is reopened as "." relative to its own descriptor, which cannot
// be a symlink either.
func (f *file) Open(mode p9.OpenFlags) (p9.QID, uint32, error) {
	flags, err := accessFlags(mode)
	if err != nil {
		return p9.QID{}, 0, err
	}
	if flags != unix.O_RDONLY && f.readOnly() {
		return p9.QID{}, 0, unix.EROFS
	}
	// Honour the guest's synchronous-write requests: a database relying on
	// O_DSYNC instead of fsync must get durable writes. O_TRUNC (Linux's
	// client truncates with Tsetattr instead, others may not) applies to
	// the fid's own inode like everything else, and only when writing.
	flags |= syncFlags(mode)
	if flags != unix.O_RDONLY && mode&p9.OpenTruncate != 0 {
		flags |= unix.O_TRUNC
	}
	if err := f.sess.waitRead(0); err != nil {
		return p9.QID{}, 0, err
	}

	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed || f.ioFD.Load() >= 0 {
		return p9.QID{}, 0, unix.EINVAL
	}
	st, err := fstat(f.fd)
	if err != nil {
		return p9.QID{}, 0, errnoErr("open", err)
	}
	if err := f.sess.acquire(1); err != nil {
		return p9.QID{}, 0, err
	}
	var fd int
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		if flags&unix.O_ACCMODE != unix.O_RDONLY {
			err = unix.EISDIR
			break
		}
		fd, err = openat(f.fd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW, 0)
	case unix.S_IFREG:
		fd, err = reopen(f.fd, flags, &st)
	default:
		err = unix.EPERM
	}
	if err != nil {
		f.sess.release(1)
		return p9.QID{}, 0, errnoErr("open", err)
	}
	f.ioMode = flags & unix.O_ACCMODE
	f.dir.dev = st.Dev
	f.ioFD.Store(int32(fd))
	return f.sess.qid(&st), 0, nil
}

// accessFlags maps the access mode of a 9P open to the host's; NoAccess
// (ioctl-only opens) is refused.
func accessFlags(mode p9.OpenFlags) (int, error) {
	switch mode.AccessMode() {
	case p9.ReadOnly:
		return unix.O_RDONLY, nil
	case p9.WriteOnly:
		return unix.O_WRONLY, nil
	case p9.ReadWrite:
		return unix.O_RDWR, nil
	}
	return 0, unix.EINVAL
}

// syncFlags maps the guest's O_DSYNC and O_SYNC (9P carries Linux's generic
// values, which are not every architecture's) to the host's.
func syncFlags(mode p9.OpenFlags) int {
	var fl int
	if mode&p9.OpenDSync != 0 {
		fl |= unix.O_DSYNC
	}
	if mode&p9.OpenSync != 0 {
		fl |= unix.O_SYNC
	}
	return fl
}

// ReadAt implements p9.File.ReadAt.
func (f *file) ReadAt(p []byte, offset int64) (int, error) {
	if err := f.sess.waitRead(len(p)); err != nil {
		return 0, err
	}
	fd := int(f.ioFD.Load())
	if fd < 0 {
		return 0, unix.EBADF
	}
	var n int
	err := retryEINTR(func() (err error) {
		n, err = unix.Pread(fd, p, offset)
		return err
	})
	if err != nil {
		return 0, errnoErr("read", err)
	}
	return n, nil
}

// WriteAt implements p9.File.WriteAt.
func (f *file) WriteAt(p []byte, offset int64) (int, error) {
	if f.readOnly() {
		return 0, unix.EROFS
	}
	if err := f.sess.waitWrite(len(p)); err != nil {
		return 0, err
	}
	fd := int(f.ioFD.Load())
	if fd < 0 {
		return 0, unix.EBADF
	}
	written := 0
	for written < len(p) {
		var n int
		err := retryEINTR(func() (err error) {
			n, err = unix.Pwrite(fd, p[written:], offset+int64(written))
			return err
		})
		if err != nil {
			if written > 0 {
				break // report the short write; the next one gets the error
			}
			return 0, errnoErr("write", err)
		}
		if n == 0 {
			break
		}
		written += n
	}
	return written, nil
}

// FSync implements p9.File.FSync: fdatasync when the guest asked only for
// its data.
func (f *file) FSync(dataOnly bool) error {
	if err := f.sess.waitWrite(0); err != nil {
		return err
	}
	fd := int(f.ioFD.Load())
	if fd < 0 {
		return unix.EBADF
	}
	if dataOnly {
		return errnoErr("fdatasync", retryEINTR(func() error { return unix.Fdatasync(fd) }))
	}
	return errnoErr("fsync", retryEINTR(func() error { return unix.Fsync(fd) }))
}

// setOwnerAndMode makes a node just created as root belong to uid:gid with
// exactly mode: chown first (it clears setuid/setgid), then chmod, which also
// undoes the server's umask. fd is the new node's own descriptor, opened
// O_NOFOLLOW by us, so it cannot be anything but what we created or (if the
// guest raced a rename) another node inside the share.
func (f *file) setOwnerAndMode(fd int, st *unix.Stat_t, uid int, gid p9.GID, mode uint32) error {
	g := -1
	if gid.Ok() && uint32(gid) != st.Gid {
		g = int(gid)
	}
	u := -1
	if uint32(uid) != st.Uid {
		u = uid
	}
	if u != -1 || g != -1 {
		if err := chownFD(fd, u, g); err != nil {
			return errnoErr("chown", err)
		}
		if s, err := fstat(fd); err == nil {
			*st = s
		}
	}
	if st.Mode&unix.S_IFMT == unix.S_IFLNK {
		return nil
	}
	if st.Mode&07777 != mode {
		if err := chmodFD(fd, mode); err != nil {
			return errnoErr("chmod", err)
		}
		st.Mode = st.Mode&unix.S_IFMT | mode
	}
	return nil
}

// createCheck is the common preamble of every operation that adds a name.
func (f *file) createCheck(name string) error {
	if err := validName(name); err != nil {
		return err
	}
	if f.readOnly() {
		return unix.EROFS
	}
	if !f.isDir() {
		return unix.ENOTDIR
	}
	return f.sess.waitWrite(0)
}

// Create implements p9.File.Create: a new regular file, opened. O_EXCL makes
// the kernel refuse any existing name (a symlink included), so the file is
// always new and never something the name pointed at.
func (f *file) Create(name string, flags p9.OpenFlags, perm p9.FileMode, gid p9.GID) (p9.File, p9.QID, uint32, error) {
	if err := f.createCheck(name); err != nil {
		return nil, p9.QID{}, 0, err
	}
	acc, err := accessFlags(flags)
	if err != nil {
		return nil, p9.QID{}, 0, err
	}
	mode := uint32(perm.Permissions())
	if err := f.sess.acquire(1); err != nil {
		return nil, p9.QID{}, 0, err
	}
	fd, err := openat(f.fd, name, acc|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|syncFlags(flags), mode)
	if err != nil {
		f.sess.release(1)
		return nil, p9.QID{}, 0, errnoErr("create", err)
	}
	st, err := fstat(fd)
	if err == nil {
		err = f.setOwnerAndMode(fd, &st, int(f.uid), gid, mode)
	}
	if err != nil {
		unix.Close(fd)
		f.sess.release(1)
		f.undoCreate(name, 0)
		return nil, p9.QID{}, 0, errnoErr("create", err)
	}
	// The I/O descriptor doubles as the file's own: every *at(AT_EMPTY_PATH)
	// call works on it as on an O_PATH one.
	nf := f.sess.newFile(fd, &st, f.uid)
	nf.fdIsIO, nf.ioMode = true, acc
	nf.ioFD.Store(int32(fd))
	return nf, f.sess.qid(&st), 0, nil
}

// undoCreate removes a node whose ownership could not be set, so a failed
// create leaves nothing behind owned by dom0's root.
func (f *file) undoCreate(name string, flags int) {
	if err := unix.Unlinkat(f.fd, name, flags); err != nil {
		log.G(f.sess.ctx).WithError(err).WithField("name", name).Debug("sharefs: removing half-created node")
	}
}

// newNode finishes mkdir, symlink and mknod: open what was created (one
// name, O_NOFOLLOW, so a swapped-in symlink is opened as itself), check it
// is of the type created, set owner and mode, and return its QID.
func (f *file) newNode(name string, typ uint32, gid p9.GID, mode uint32) (p9.QID, error) {
	undo := 0
	if typ == unix.S_IFDIR {
		undo = unix.AT_REMOVEDIR
	}
	fd, err := walkOpen(f.fd, name)
	if err != nil {
		return p9.QID{}, err
	}
	defer unix.Close(fd)
	st, err := fstat(fd)
	if err == nil && st.Mode&unix.S_IFMT != typ {
		err = unix.EEXIST // someone replaced it meanwhile; leave it alone
		undo = -1
	}
	if err == nil {
		err = f.setOwnerAndMode(fd, &st, int(f.uid), gid, mode)
	}
	if err != nil {
		if undo >= 0 {
			f.undoCreate(name, undo)
		}
		return p9.QID{}, err
	}
	return f.sess.qid(&st), nil
}

// Mkdir implements p9.File.Mkdir. A directory created in a setgid directory
// keeps the setgid bit the kernel gives it, as on a local file system (the
// guest's mode does not carry it).
func (f *file) Mkdir(name string, perm p9.FileMode, gid p9.GID) (p9.QID, error) {
	if err := f.createCheck(name); err != nil {
		return p9.QID{}, err
	}
	mode := uint32(perm.Permissions())
	if err := unix.Mkdirat(f.fd, name, mode); err != nil {
		return p9.QID{}, errnoErr("mkdir", err)
	}
	if parent, err := fstat(f.fd); err == nil && parent.Mode&unix.S_ISGID != 0 {
		mode |= unix.S_ISGID
	}
	qid, err := f.newNode(name, unix.S_IFDIR, gid, mode)
	return qid, errnoErr("mkdir", err)
}

// Symlink implements p9.File.Symlink. The target is stored as the guest
// wrote it: the server never follows a symlink, so where it points does not
// matter to dom0.
func (f *file) Symlink(target, name string, gid p9.GID) (p9.QID, error) {
	if err := f.createCheck(name); err != nil {
		return p9.QID{}, err
	}
	if len(target) >= unix.PathMax {
		return p9.QID{}, unix.ENAMETOOLONG
	}
	for i := 0; i < len(target); i++ {
		if target[i] == 0 {
			return p9.QID{}, unix.EINVAL
		}
	}
	if err := unix.Symlinkat(target, f.fd, name); err != nil {
		return p9.QID{}, errnoErr("symlink", err)
	}
	qid, err := f.newNode(name, unix.S_IFLNK, gid, 0777)
	return qid, errnoErr("symlink", err)
}

// Mknod implements p9.File.Mknod for FIFOs, sockets and regular files.
// Device nodes are refused: a guest able to create one in a dom0 directory
// could hand dom0 (or a later container using the directory) a door to any
// device.
func (f *file) Mknod(name string, mode p9.FileMode, major, minor uint32, gid p9.GID) (p9.QID, error) {
	if err := f.createCheck(name); err != nil {
		return p9.QID{}, err
	}
	typ := uint32(mode.FileType())
	switch typ {
	case 0:
		typ = unix.S_IFREG
	case unix.S_IFIFO, unix.S_IFSOCK, unix.S_IFREG:
	case unix.S_IFCHR, unix.S_IFBLK:
		log.G(f.sess.ctx).WithField("share", f.sess.share.cfg.Dir).WithField("name", name).
			WithField("major", major).WithField("minor", minor).
			Warn("sharefs: guest tried to create a device node; refused")
		return p9.QID{}, unix.EPERM
	case unix.S_IFDIR:
		return p9.QID{}, unix.EPERM
	default:
		return p9.QID{}, unix.EINVAL
	}
	perm := uint32(mode.Permissions())
	if err := unix.Mknodat(f.fd, name, typ|perm, 0); err != nil {
		return p9.QID{}, errnoErr("mknod", err)
	}
	qid, err := f.newNode(name, typ, gid, perm)
	return qid, errnoErr("mknod", err)
}

// sameShare returns other as a file of this share, or an error: a fid from
// another share (another connection's) can never be a rename or link target.
func (f *file) sameShare(other p9.File) (*file, error) {
	o, ok := other.(*file)
	if !ok || o.sess.share != f.sess.share {
		return nil, unix.EXDEV
	}
	return o, nil
}

// Link implements p9.File.Link: a hard link to target's inode (a symlink is
// linked as itself, never its target), which is inside the share because
// every file is.
func (f *file) Link(target p9.File, name string) error {
	if err := f.createCheck(name); err != nil {
		return err
	}
	t, err := f.sameShare(target)
	if err != nil {
		return err
	}
	if t.typ == unix.S_IFDIR {
		return unix.EPERM
	}
	return errnoErr("link", linkFD(t.fd, f.fd, name))
}

// RenameAt implements p9.File.RenameAt: one name in each directory, never
// following symlinks (rename replaces a symlink, it does not write through
// it).
func (f *file) RenameAt(oldName string, newDir p9.File, newName string) error {
	if err := validName(oldName); err != nil {
		return err
	}
	if err := validName(newName); err != nil {
		return err
	}
	if f.readOnly() {
		return unix.EROFS
	}
	nd, err := f.sameShare(newDir)
	if err != nil {
		return err
	}
	if err := f.sess.waitWrite(0); err != nil {
		return err
	}
	return errnoErr("rename", unix.Renameat2(f.fd, oldName, nd.fd, newName, 0))
}

// UnlinkAt implements p9.File.UnlinkAt.
func (f *file) UnlinkAt(name string, flags uint32) error {
	if err := validName(name); err != nil {
		return err
	}
	if flags&^unix.AT_REMOVEDIR != 0 {
		return unix.EINVAL
	}
	if f.readOnly() {
		return unix.EROFS
	}
	if err := f.sess.waitWrite(0); err != nil {
		return err
	}
	return errnoErr("unlink", unix.Unlinkat(f.fd, name, int(flags)))
}

// Readlink implements p9.File.Readlink.
func (f *file) Readlink() (string, error) {
	if f.typ != unix.S_IFLNK {
		return "", unix.EINVAL
	}
	if err := f.sess.waitRead(0); err != nil {
		return "", err
	}
	target, err := readlinkFD(f.fd)
	return target, errnoErr("readlink", err)
}
