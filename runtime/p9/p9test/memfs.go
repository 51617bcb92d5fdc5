// Package p9test provides an in-memory file system behind the p9.File
// interface, for tests of the p9 server and client and of code that speaks
// 9P (transports, mount helpers) without a host directory or root.
//
// It keeps directories, regular files, symlinks, FIFOs and sockets, owners,
// modes (setuid and setgid included), times, extended attributes and
// hard links, under one lock. It does not arbitrate record locks (every
// lock is granted) and checks no permissions. It counts its open Files so
// tests can check a server closed every one.
package p9test

import (
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/runxen/runxen/runtime/p9"
)

// MaxFileSize bounds a file's size (EFBIG beyond), so a test (or a fuzzed
// client) cannot make the process allocate without bound.
const MaxFileSize = 16 << 20

// FS is an in-memory file system; its zero value is not usable, use New.
type FS struct {
	mu      sync.Mutex
	root    *node
	nextIno uint64 // guarded by mu

	files        atomic.Int64 // Files handed out and not closed
	doubleCloses atomic.Int64 // Close calls on a closed File
}

// node is one inode.
type node struct {
	ino      uint64
	mode     p9.FileMode
	uid      p9.UID
	gid      p9.GID
	nlink    uint64
	data     []byte           // regular file
	target   string           // symlink
	children map[string]*node // directory
	xattrs   map[string][]byte
	mtime    time.Time
	atime    time.Time
}

// New returns a file system with an empty root directory (0755, root).
func New() *FS {
	fs := &FS{nextIno: 1}
	fs.root = fs.newNode(p9.ModeDirectory|0o755, 0, 0)
	return fs
}

func (fs *FS) newNode(mode p9.FileMode, uid p9.UID, gid p9.GID) *node {
	fs.nextIno++
	now := time.Now()
	n := &node{ino: fs.nextIno, mode: mode, uid: uid, gid: gid, nlink: 1, mtime: now, atime: now}
	if mode.IsDir() {
		n.children = make(map[string]*node)
		n.nlink = 2
	}
	return n
}

// OpenFiles returns how many Files are handed out and not yet closed.
func (fs *FS) OpenFiles() int64 { return fs.files.Load() }

// DoubleCloses returns how many times a closed File was closed again,
// which a p9 server must never do.
func (fs *FS) DoubleCloses() int64 { return fs.doubleCloses.Load() }

// Attach implements p9.Attacher: the root, for files created through it to
// belong to uid (root without one).
func (fs *FS) Attach(_ string, uid p9.UID) (p9.File, error) {
	if !uid.Ok() {
		uid = 0
	}
	return fs.newFile(fs.root, uid), nil
}

var _ p9.Attacher = (*FS)(nil)

func (fs *FS) newFile(n *node, uid p9.UID) *File {
	fs.files.Add(1)
	return &File{fs: fs, n: n, uid: uid}
}

// File is one fid's view of a node.
type File struct {
	fs     *FS
	n      *node
	uid    p9.UID
	opened bool
	flags  p9.OpenFlags
	closed atomic.Bool
}

var _ p9.File = (*File)(nil)

func qidOf(n *node) p9.QID { return p9.QID{Type: n.mode.QIDType(), Path: n.ino} }

func (f *File) Walk(names []string) ([]p9.QID, p9.File, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	cur := f.n
	qids := make([]p9.QID, 0, len(names))
	for _, name := range names {
		if !cur.mode.IsDir() {
			return nil, nil, syscall.ENOTDIR
		}
		next, ok := cur.children[name]
		if !ok {
			return nil, nil, syscall.ENOENT
		}
		cur = next
		qids = append(qids, qidOf(cur))
	}
	return qids, f.fs.newFile(cur, f.uid), nil
}

func (f *File) GetAttr(p9.AttrMask) (p9.QID, p9.AttrMask, p9.Attr, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	n := f.n
	size := uint64(len(n.data))
	if n.mode.IsSymlink() {
		size = uint64(len(n.target))
	}
	return qidOf(n), p9.AttrBasic, p9.Attr{
		Mode: n.mode, UID: n.uid, GID: n.gid, NLink: n.nlink, Size: size,
		BlockSize: 4096, Blocks: (size + 511) / 512,
		ATimeSec: uint64(n.atime.Unix()), ATimeNsec: uint64(n.atime.Nanosecond()),
		MTimeSec: uint64(n.mtime.Unix()), MTimeNsec: uint64(n.mtime.Nanosecond()),
		CTimeSec: uint64(n.mtime.Unix()), CTimeNsec: uint64(n.mtime.Nanosecond()),
	}, nil
}

func (f *File) SetAttr(valid p9.SetAttrMask, attr p9.SetAttr) error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	n := f.n
	if valid.Has(p9.SetAttrUID) {
		n.uid = attr.UID
	}
	if valid.Has(p9.SetAttrGID) {
		n.gid = attr.GID
	}
	if valid.Has(p9.SetAttrMode) {
		n.mode = n.mode.FileType() | attr.Mode.Permissions()
	}
	if valid.Has(p9.SetAttrSize) {
		switch {
		case n.mode.IsDir():
			return syscall.EISDIR
		case !n.mode.IsRegular():
			return syscall.EINVAL
		case attr.Size > MaxFileSize:
			return syscall.EFBIG
		}
		n.data = resize(n.data, int(attr.Size))
	}
	stamp := func(set bool, sec, nsec uint64) time.Time {
		if !set {
			return time.Now()
		}
		return time.Unix(int64(sec), int64(nsec))
	}
	if valid.Has(p9.SetAttrATime) {
		n.atime = stamp(valid.Has(p9.SetAttrATimeSet), attr.ATimeSec, attr.ATimeNsec)
	}
	if valid.Has(p9.SetAttrMTime) {
		n.mtime = stamp(valid.Has(p9.SetAttrMTimeSet), attr.MTimeSec, attr.MTimeNsec)
	}
	return nil
}

func resize(b []byte, size int) []byte {
	if size <= len(b) {
		return b[:size]
	}
	return append(b, make([]byte, size-len(b))...)
}

func (f *File) StatFS() (p9.FSStat, error) {
	return p9.FSStat{Type: 0x01021997, BlockSize: 4096, Blocks: 1 << 20, BlocksFree: 1 << 19,
		BlocksAvailable: 1 << 19, Files: 1 << 16, FilesFree: 1 << 15, NameLength: p9.MaxNameLength}, nil
}

func (f *File) Open(flags p9.OpenFlags) (p9.QID, uint32, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if f.opened {
		return p9.QID{}, 0, syscall.EINVAL
	}
	switch {
	case flags.AccessMode() == p9.NoAccess:
		return p9.QID{}, 0, syscall.EINVAL
	case f.n.mode.IsDir() && flags.AccessMode() != p9.ReadOnly:
		return p9.QID{}, 0, syscall.EISDIR
	case !f.n.mode.IsDir() && !f.n.mode.IsRegular():
		return p9.QID{}, 0, syscall.EPERM
	}
	if flags&p9.OpenTruncate != 0 && flags.AccessMode() != p9.ReadOnly {
		f.n.data = f.n.data[:0]
	}
	f.opened, f.flags = true, flags
	return qidOf(f.n), 0, nil
}

func (f *File) ReadAt(p []byte, off int64) (int, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if f.n.mode.IsDir() {
		return 0, syscall.EISDIR
	}
	if off >= int64(len(f.n.data)) {
		return 0, nil
	}
	return copy(p, f.n.data[off:]), nil
}

func (f *File) WriteAt(p []byte, off int64) (int, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if off < 0 || off+int64(len(p)) > MaxFileSize {
		return 0, syscall.EFBIG
	}
	if end := int(off) + len(p); end > len(f.n.data) {
		f.n.data = resize(f.n.data, end)
	}
	f.n.mtime = time.Now()
	return copy(f.n.data[off:], p), nil
}

func (f *File) FSync(bool) error { return nil }

// Readdir lists "." and ".." and then the children by name; an entry's
// offset is its index plus one.
func (f *File) Readdir(offset uint64, count uint32) ([]p9.Dirent, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if !f.n.mode.IsDir() {
		return nil, syscall.ENOTDIR
	}
	names := make([]string, 0, len(f.n.children))
	for name := range f.n.children {
		names = append(names, name)
	}
	sort.Strings(names)
	all := append([]string{".", ".."}, names...)
	var ents []p9.Dirent
	used := 0
	for i := offset; i < uint64(len(all)); i++ {
		name := all[i]
		n := f.n
		if c, ok := f.n.children[name]; ok {
			n = c
		}
		ent := p9.Dirent{QID: qidOf(n), Offset: i + 1, Type: dtype(n.mode), Name: name}
		used += 24 + len(name)
		if used > int(count) {
			break
		}
		ents = append(ents, ent)
	}
	return ents, nil
}

// dtype is the d_type of a mode.
func dtype(m p9.FileMode) uint8 { return uint8(m.FileType() >> 12) }

func (f *File) Lock(p9.LockFlags, p9.LockInfo) (p9.LockStatus, error) { return p9.LockOK, nil }

func (f *File) GetLock(want p9.LockInfo) (p9.LockInfo, error) {
	want.Type = p9.Unlock
	return want, nil
}

// add makes a child of f's directory; the caller holds fs.mu.
func (f *File) add(name string, mode p9.FileMode, gid p9.GID) (*node, error) {
	if !f.n.mode.IsDir() {
		return nil, syscall.ENOTDIR
	}
	if _, ok := f.n.children[name]; ok {
		return nil, syscall.EEXIST
	}
	if !gid.Ok() {
		gid = 0
	}
	n := f.fs.newNode(mode, f.uid, gid)
	f.n.children[name] = n
	if mode.IsDir() {
		f.n.nlink++
	}
	return n, nil
}

func (f *File) Create(name string, flags p9.OpenFlags, mode p9.FileMode, gid p9.GID) (p9.File, p9.QID, uint32, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if flags.AccessMode() == p9.NoAccess {
		return nil, p9.QID{}, 0, syscall.EINVAL
	}
	n, err := f.add(name, p9.ModeRegular|mode.Permissions(), gid)
	if err != nil {
		return nil, p9.QID{}, 0, err
	}
	nf := f.fs.newFile(n, f.uid)
	nf.opened, nf.flags = true, flags
	return nf, qidOf(n), 0, nil
}

func (f *File) Mkdir(name string, mode p9.FileMode, gid p9.GID) (p9.QID, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	n, err := f.add(name, p9.ModeDirectory|mode.Permissions(), gid)
	if err != nil {
		return p9.QID{}, err
	}
	return qidOf(n), nil
}

func (f *File) Symlink(target, name string, gid p9.GID) (p9.QID, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	n, err := f.add(name, p9.ModeSymlink|0o777, gid)
	if err != nil {
		return p9.QID{}, err
	}
	n.target = target
	return qidOf(n), nil
}

func (f *File) Mknod(name string, mode p9.FileMode, _, _ uint32, gid p9.GID) (p9.QID, error) {
	switch mode.FileType() {
	case p9.ModeNamedPipe, p9.ModeSocket, p9.ModeRegular:
	default:
		return p9.QID{}, syscall.EPERM
	}
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	n, err := f.add(name, mode, gid)
	if err != nil {
		return p9.QID{}, err
	}
	return qidOf(n), nil
}

// other returns a File of the same file system.
func (f *File) other(o p9.File) (*File, error) {
	of, ok := o.(*File)
	if !ok || of.fs != f.fs {
		return nil, syscall.EXDEV
	}
	return of, nil
}

func (f *File) Link(target p9.File, name string) error {
	t, err := f.other(target)
	if err != nil {
		return err
	}
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if !f.n.mode.IsDir() {
		return syscall.ENOTDIR
	}
	if t.n.mode.IsDir() {
		return syscall.EPERM
	}
	if _, ok := f.n.children[name]; ok {
		return syscall.EEXIST
	}
	f.n.children[name] = t.n
	t.n.nlink++
	return nil
}

func (f *File) RenameAt(oldName string, newDir p9.File, newName string) error {
	nd, err := f.other(newDir)
	if err != nil {
		return err
	}
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if !f.n.mode.IsDir() || !nd.n.mode.IsDir() {
		return syscall.ENOTDIR
	}
	n, ok := f.n.children[oldName]
	if !ok {
		return syscall.ENOENT
	}
	if old, ok := nd.n.children[newName]; ok {
		if old == n {
			return nil
		}
		if old.mode.IsDir() && len(old.children) > 0 {
			return syscall.ENOTEMPTY
		}
		if old.mode.IsDir() != n.mode.IsDir() {
			if n.mode.IsDir() {
				return syscall.ENOTDIR
			}
			return syscall.EISDIR
		}
		old.nlink--
	}
	delete(f.n.children, oldName)
	nd.n.children[newName] = n
	return nil
}

func (f *File) UnlinkAt(name string, flags uint32) error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if flags&^p9.AtRemoveDir != 0 {
		return syscall.EINVAL
	}
	if !f.n.mode.IsDir() {
		return syscall.ENOTDIR
	}
	n, ok := f.n.children[name]
	if !ok {
		return syscall.ENOENT
	}
	switch {
	case n.mode.IsDir() && flags&p9.AtRemoveDir == 0:
		return syscall.EISDIR
	case !n.mode.IsDir() && flags&p9.AtRemoveDir != 0:
		return syscall.ENOTDIR
	case n.mode.IsDir() && len(n.children) > 0:
		return syscall.ENOTEMPTY
	}
	delete(f.n.children, name)
	n.nlink--
	if n.mode.IsDir() {
		f.n.nlink--
	}
	return nil
}

func (f *File) Readlink() (string, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if !f.n.mode.IsSymlink() {
		return "", syscall.EINVAL
	}
	return f.n.target, nil
}

func (f *File) GetXattr(name string) ([]byte, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	v, ok := f.n.xattrs[name]
	if !ok {
		return nil, syscall.ENODATA
	}
	return append([]byte{}, v...), nil
}

func (f *File) ListXattrs() ([]string, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	names := make([]string, 0, len(f.n.xattrs))
	for name := range f.n.xattrs {
		names = append(names, name)
	}
	sort.Strings(names)
	return names, nil
}

func (f *File) SetXattr(name string, value []byte, flags p9.XattrFlags) error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	_, exists := f.n.xattrs[name]
	switch {
	case flags&p9.XattrCreate != 0 && exists:
		return syscall.EEXIST
	case flags&p9.XattrReplace != 0 && !exists:
		return syscall.ENODATA
	}
	if f.n.xattrs == nil {
		f.n.xattrs = make(map[string][]byte)
	}
	f.n.xattrs[name] = append([]byte{}, value...)
	return nil
}

func (f *File) RemoveXattr(name string) error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if _, ok := f.n.xattrs[name]; !ok {
		return syscall.ENODATA
	}
	delete(f.n.xattrs, name)
	return nil
}

// Close releases the File; a second Close is counted (DoubleCloses) and
// fails.
func (f *File) Close() error {
	if f.closed.Swap(true) {
		f.fs.doubleCloses.Add(1)
		return syscall.EBADF
	}
	f.fs.files.Add(-1)
	return nil
}
