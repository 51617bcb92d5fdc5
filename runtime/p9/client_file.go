package p9

import (
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"syscall"

	"github.com/runxen/runxen/runtime/internal/bufpool"
)

// clientFile is a fid of a Client, as a File.
type clientFile struct {
	c      *Client
	fid    uint32
	closed atomic.Bool
}

var (
	_ File    = (*clientFile)(nil)
	_ Remover = (*clientFile)(nil)
	_ Renamer = (*clientFile)(nil)
)

// ioSize is the most data one Tread or Twrite carries, as Linux sizes it.
func (f *clientFile) ioSize() int { return int(f.c.msize) - ioHeaderSize }

// sibling returns other as a fid of the same client.
func (f *clientFile) sibling(other File) (*clientFile, error) {
	o, ok := other.(*clientFile)
	if !ok || o.c != f.c {
		return nil, fmt.Errorf("p9: a file of another client: %w", syscall.EXDEV)
	}
	return o, nil
}

// Walk walks to a new fid. More than MaxWalkNames names are refused here,
// as the protocol forbids them.
func (f *clientFile) Walk(names []string) ([]QID, File, error) {
	if len(names) > MaxWalkNames {
		return nil, nil, fmt.Errorf("p9: walk of %d names, at most %d: %w", len(names), MaxWalkNames, einval)
	}
	nf := f.c.newFID()
	m, err := f.c.Call(&Twalk{FID: f.fid, NewFID: nf, Names: names})
	if err != nil {
		f.c.freeFID(nf)
		return nil, nil, err
	}
	qids := m.(*Rwalk).QIDs
	if len(qids) != len(names) {
		// A partial walk: newfid was not made.
		f.c.freeFID(nf)
		return nil, nil, fmt.Errorf("p9: walked %d of %d names: %w", len(qids), len(names), enoent)
	}
	return qids, &clientFile{c: f.c, fid: nf}, nil
}

func (f *clientFile) GetAttr(mask AttrMask) (QID, AttrMask, Attr, error) {
	m, err := f.c.Call(&Tgetattr{FID: f.fid, Mask: mask})
	if err != nil {
		return QID{}, 0, Attr{}, err
	}
	r := m.(*Rgetattr)
	return r.QID, r.Valid, r.Attr, nil
}

func (f *clientFile) SetAttr(valid SetAttrMask, attr SetAttr) error {
	_, err := f.c.Call(&Tsetattr{FID: f.fid, Valid: valid, Attr: attr})
	return err
}

func (f *clientFile) StatFS() (FSStat, error) {
	m, err := f.c.Call(&Tstatfs{FID: f.fid})
	if err != nil {
		return FSStat{}, err
	}
	return m.(*Rstatfs).FSStat, nil
}

func (f *clientFile) Open(flags OpenFlags) (QID, uint32, error) {
	m, err := f.c.Call(&Tlopen{FID: f.fid, Flags: flags})
	if err != nil {
		return QID{}, 0, err
	}
	r := m.(*Rlopen)
	return r.QID, r.IOUnit, nil
}

// ReadAt reads len(p) bytes in as many Treads as needed; fewer at the end
// of the file, with io.EOF.
func (f *clientFile) ReadAt(p []byte, offset int64) (int, error) {
	done := 0
	for done < len(p) {
		n := min(len(p)-done, f.ioSize())
		h, buf, err := f.c.rpc(&Tread{FID: f.fid, Offset: uint64(offset) + uint64(done), Count: uint32(n)})
		if err != nil {
			return done, err
		}
		got, err := readData(buf[headerSize:h.Size], p[done:done+n])
		bufpool.Put(buf)
		if err != nil {
			return done, err
		}
		done += got
		if got == 0 {
			return done, io.EOF
		}
	}
	return done, nil
}

// WriteAt writes p in as many Twrites as needed.
func (f *clientFile) WriteAt(p []byte, offset int64) (int, error) {
	done := 0
	for done < len(p) || len(p) == 0 {
		n := min(len(p)-done, f.ioSize())
		m, err := f.c.Call(&Twrite{FID: f.fid, Offset: uint64(offset) + uint64(done), Data: p[done : done+n]})
		if err != nil {
			return done, err
		}
		w := int(m.(*Rwrite).Count)
		if w > n {
			return done, fmt.Errorf("%w: Rwrite of %d bytes for %d", ErrProtocol, w, n)
		}
		done += w
		if len(p) == 0 {
			break
		}
		if w < n {
			return done, io.ErrShortWrite
		}
	}
	return done, nil
}

func (f *clientFile) FSync(dataOnly bool) error {
	var ds uint32
	if dataOnly {
		ds = 1
	}
	_, err := f.c.Call(&Tfsync{FID: f.fid, DataSync: ds})
	return err
}

func (f *clientFile) Readdir(offset uint64, count uint32) ([]Dirent, error) {
	count = min(count, f.c.msize-ioHeaderSize)
	m, err := f.c.Call(&Treaddir{FID: f.fid, Offset: offset, Count: count})
	if err != nil {
		return nil, err
	}
	return m.(*Rreaddir).Entries, nil
}

func (f *clientFile) Lock(flags LockFlags, lock LockInfo) (LockStatus, error) {
	m, err := f.c.Call(&Tlock{FID: f.fid, Flags: flags, Lock: lock})
	if err != nil {
		return LockError, err
	}
	return m.(*Rlock).Status, nil
}

func (f *clientFile) GetLock(want LockInfo) (LockInfo, error) {
	m, err := f.c.Call(&Tgetlock{FID: f.fid, Lock: want})
	if err != nil {
		return LockInfo{}, err
	}
	return m.(*Rgetlock).Lock, nil
}

// Create turns this fid into the new file, open, and returns it: the
// directory is no longer reachable through it.
func (f *clientFile) Create(name string, flags OpenFlags, mode FileMode, gid GID) (File, QID, uint32, error) {
	m, err := f.c.Call(&Tlcreate{FID: f.fid, Name: name, Flags: flags, Mode: mode, GID: gid})
	if err != nil {
		return nil, QID{}, 0, err
	}
	r := m.(*Rlcreate)
	return f, r.QID, r.IOUnit, nil
}

func (f *clientFile) Mkdir(name string, mode FileMode, gid GID) (QID, error) {
	m, err := f.c.Call(&Tmkdir{DirFID: f.fid, Name: name, Mode: mode, GID: gid})
	if err != nil {
		return QID{}, err
	}
	return m.(*Rmkdir).QID, nil
}

func (f *clientFile) Symlink(target, name string, gid GID) (QID, error) {
	m, err := f.c.Call(&Tsymlink{DirFID: f.fid, Name: name, Target: target, GID: gid})
	if err != nil {
		return QID{}, err
	}
	return m.(*Rsymlink).QID, nil
}

func (f *clientFile) Mknod(name string, mode FileMode, major, minor uint32, gid GID) (QID, error) {
	m, err := f.c.Call(&Tmknod{DirFID: f.fid, Name: name, Mode: mode, Major: major, Minor: minor, GID: gid})
	if err != nil {
		return QID{}, err
	}
	return m.(*Rmknod).QID, nil
}

func (f *clientFile) Link(target File, name string) error {
	t, err := f.sibling(target)
	if err != nil {
		return err
	}
	_, err = f.c.Call(&Tlink{DirFID: f.fid, FID: t.fid, Name: name})
	return err
}

func (f *clientFile) RenameAt(oldName string, newDir File, newName string) error {
	d, err := f.sibling(newDir)
	if err != nil {
		return err
	}
	_, err = f.c.Call(&Trenameat{OldDirFID: f.fid, OldName: oldName, NewDirFID: d.fid, NewName: newName})
	return err
}

// Rename sends Trename (what Linux falls back to without Trenameat).
func (f *clientFile) Rename(newDir File, newName string) error {
	d, err := f.sibling(newDir)
	if err != nil {
		return err
	}
	_, err = f.c.Call(&Trename{FID: f.fid, DirFID: d.fid, Name: newName})
	return err
}

func (f *clientFile) UnlinkAt(name string, flags uint32) error {
	_, err := f.c.Call(&Tunlinkat{DirFID: f.fid, Name: name, Flags: flags})
	return err
}

func (f *clientFile) Readlink() (string, error) {
	m, err := f.c.Call(&Treadlink{FID: f.fid})
	if err != nil {
		return "", err
	}
	return m.(*Rreadlink).Target, nil
}

// xattrRead reads a value (or the name list, for "") through a new fid.
func (f *clientFile) xattrRead(name string) ([]byte, error) {
	nf := f.c.newFID()
	m, err := f.c.Call(&Txattrwalk{FID: f.fid, NewFID: nf, Name: name})
	if err != nil {
		f.c.freeFID(nf)
		return nil, err
	}
	x := &clientFile{c: f.c, fid: nf}
	defer x.Close()
	size := m.(*Rxattrwalk).Size
	if size > MaxXattrSize {
		return nil, fmt.Errorf("p9: extended attribute of %d bytes: %w", size, e2big)
	}
	buf := make([]byte, size)
	n, err := x.ReadAt(buf, 0)
	if err != nil && err != io.EOF {
		return nil, err
	}
	return buf[:n], nil
}

func (f *clientFile) GetXattr(name string) ([]byte, error) { return f.xattrRead(name) }

func (f *clientFile) ListXattrs() ([]string, error) {
	b, err := f.xattrRead("")
	if err != nil {
		return nil, err
	}
	var names []string
	for _, n := range strings.Split(string(b), "\x00") {
		if n != "" {
			names = append(names, n)
		}
	}
	return names, nil
}

// SetXattr sets a value through a clone of the fid: Txattrcreate, the
// value in Twrites, and Tclunk, whose answer is the outcome.
func (f *clientFile) SetXattr(name string, value []byte, flags XattrFlags) error {
	_, clone, err := f.Walk(nil)
	if err != nil {
		return err
	}
	x := clone.(*clientFile)
	if _, err := f.c.Call(&Txattrcreate{FID: x.fid, Name: name, Size: uint64(len(value)), Flags: flags}); err != nil {
		x.Close()
		return err
	}
	if len(value) > 0 {
		if _, err := x.WriteAt(value, 0); err != nil {
			x.Close()
			return err
		}
	}
	return x.Close()
}

// RemoveXattr is a Txattrcreate of size 0 with XattrReplace, as Linux
// sends removexattr.
func (f *clientFile) RemoveXattr(name string) error { return f.SetXattr(name, nil, XattrReplace) }

// Remove sends Tremove, which clunks the fid whatever the outcome.
func (f *clientFile) Remove() error {
	if f.closed.Swap(true) {
		return fmt.Errorf("p9: remove of a clunked fid: %w", ebadf)
	}
	_, err := f.c.Call(&Tremove{FID: f.fid})
	f.c.freeFID(f.fid)
	return err
}

// Close clunks the fid; closing twice does nothing.
func (f *clientFile) Close() error {
	if f.closed.Swap(true) {
		return nil
	}
	_, err := f.c.Call(&Tclunk{FID: f.fid})
	f.c.freeFID(f.fid)
	return err
}
