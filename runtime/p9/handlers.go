package p9

import (
	"encoding/binary"
	"io"
	"math"
	"strings"
)

// dispatch handles one request; an error becomes Rlerror.
func (c *srvConn) dispatch(m Message) (Message, error) {
	switch m := m.(type) {
	case *Tauth:
		// No authentication: who may attach is decided by who can reach
		// the transport.
		return nil, eopnotsupp
	case *Tattach:
		return c.attach(m)
	case *Tflush:
		return c.flush(m)
	case *Twalk:
		return c.walk(m)
	case *Tclunk:
		return c.clunk(m)
	case *Tremove:
		return c.removeFid(m)
	case *Tgetattr:
		return c.getattr(m)
	case *Tsetattr:
		return c.setattr(m)
	case *Tstatfs:
		return c.statfs(m)
	case *Tlopen:
		return c.lopen(m)
	case *Tlcreate:
		return c.lcreate(m)
	case *Tread:
		return c.read(m)
	case *Twrite:
		return c.write(m)
	case *Treaddir:
		return c.readdir(m)
	case *Tfsync:
		return c.fsync(m)
	case *Tlock:
		return c.lock(m)
	case *Tgetlock:
		return c.getlock(m)
	case *Tmkdir:
		return c.mkdir(m)
	case *Tsymlink:
		return c.symlink(m)
	case *Tmknod:
		return c.mknod(m)
	case *Tlink:
		return c.link(m)
	case *Trename:
		return c.rename(m)
	case *Trenameat:
		return c.renameat(m)
	case *Tunlinkat:
		return c.unlinkat(m)
	case *Treadlink:
		return c.readlink(m)
	case *Txattrwalk:
		return c.xattrwalk(m)
	case *Txattrcreate:
		return c.xattrcreate(m)
	}
	return nil, enosys
}

// negotiated returns the session's msize.
func (c *srvConn) negotiated() uint32 {
	if m := c.msize.Load(); m != 0 {
		return m
	}
	return c.maxMsize
}

// fileOf returns the File of a plain fid (not an xattr fid).
func (f *fid) fileOf() (File, error) {
	if f.kind != fidFile || f.file == nil {
		return nil, ebadf
	}
	return f.file, nil
}

// openFile returns the File of a plain fid opened for I/O.
func (f *fid) openFile() (File, error) {
	file, err := f.fileOf()
	if err != nil {
		return nil, err
	}
	if !f.opened {
		return nil, ebadf
	}
	return file, nil
}

// maxAttachNames bounds the components of an attach name.
const maxAttachNames = 128

func (c *srvConn) attach(m *Tattach) (Message, error) {
	if m.AFID != NoFID {
		return nil, ebadf // Tauth never makes one
	}
	var names []string
	for _, n := range strings.Split(m.AName, "/") {
		if n == "" {
			continue
		}
		if err := checkName(n); err != nil {
			return nil, err
		}
		names = append(names, n)
		if len(names) > maxAttachNames {
			return nil, enametoolong
		}
	}
	if err := c.checkFree(m.FID); err != nil {
		return nil, err
	}
	root, err := c.srv.Attacher.Attach(m.UName, m.NUName)
	if err != nil {
		return nil, err
	}
	for len(names) > 0 {
		k := min(len(names), MaxWalkNames)
		_, next, err := root.Walk(names[:k])
		c.closeFile(root)
		if err != nil {
			return nil, err
		}
		root, names = next, names[k:]
	}
	qid, _, _, err := root.GetAttr(AttrMode)
	if err == nil {
		err = c.insert(m.FID, root, fidFile, nil, 0)
	}
	if err != nil {
		c.closeFile(root)
		return nil, err
	}
	return &Rattach{QID: qid}, nil
}

// flush answers once the request it names (if any is in flight) has been
// answered, so the client sees that reply first. A Tflush never waits for
// another Tflush (nor for itself).
func (c *srvConn) flush(m *Tflush) (Message, error) {
	c.tagMu.Lock()
	p := c.tags[m.OldTag]
	c.tagMu.Unlock()
	if p != nil && !p.flush {
		<-p.done
	}
	return &Rflush{}, nil
}

func (c *srvConn) walk(m *Twalk) (Message, error) {
	for _, n := range m.Names {
		if err := checkName(n); err != nil {
			return nil, err
		}
	}
	self := m.NewFID == m.FID
	if !self {
		if err := c.checkFree(m.NewFID); err != nil {
			return nil, err
		}
	}
	return c.withFid(m.FID, self, func(f *fid, file File) (Message, error) {
		return c.walkFrom(f, file, m)
	})
}

// walkFrom walks from fid f (locked exclusive for a walk onto itself).
func (c *srvConn) walkFrom(f *fid, file File, m *Twalk) (Message, error) {
	self := m.NewFID == m.FID
	if self && len(m.Names) == 0 {
		return &Rwalk{}, nil
	}
	qids, nf, err := file.Walk(m.Names)
	if err != nil {
		return nil, err
	}
	if nf == nil || len(qids) != len(m.Names) {
		if nf != nil {
			c.closeFile(nf)
		}
		c.log.Warnf("p9: Walk of %d names returned %d QIDs", len(m.Names), len(qids))
		return nil, eio
	}
	if self {
		// Nobody else holds f: the old File can go now.
		f.file, f.opened, f.flags = nf, false, 0
		c.closeFile(file)
		return &Rwalk{QIDs: qids}, nil
	}
	if err := c.insert(m.NewFID, nf, fidFile, nil, 0); err != nil {
		c.closeFile(nf)
		return nil, err
	}
	return &Rwalk{QIDs: qids}, nil
}

func (c *srvConn) clunk(m *Tclunk) (Message, error) {
	f, err := c.remove(m.FID)
	if err != nil {
		return nil, err
	}
	defer c.release(f)
	f.mu.Lock() // wait for the requests still using it
	defer f.mu.Unlock()
	if f.kind == fidXattrWrite {
		if err := f.commitXattr(); err != nil {
			return nil, err
		}
	}
	return &Rclunk{}, nil
}

// removeFid handles Tremove, which clunks the fid whatever happens.
func (c *srvConn) removeFid(m *Tremove) (Message, error) {
	f, err := c.remove(m.FID)
	if err != nil {
		return nil, err
	}
	defer c.release(f)
	f.mu.Lock()
	defer f.mu.Unlock()
	file, err := f.fileOf()
	if err != nil {
		return nil, err
	}
	r, ok := file.(Remover)
	if !ok {
		return nil, eopnotsupp
	}
	if err := r.Remove(); err != nil {
		return nil, err
	}
	return &Rremove{}, nil
}

// withFid runs fn on plain fid num and its File, the fid locked shared or
// exclusive.
func (c *srvConn) withFid(num uint32, exclusive bool, fn func(*fid, File) (Message, error)) (Message, error) {
	f, done, err := c.use(num, exclusive)
	if err != nil {
		return nil, err
	}
	defer done()
	file, err := f.fileOf()
	if err != nil {
		return nil, err
	}
	return fn(f, file)
}

// onFile runs fn on the File of plain fid num, share-locked; with open, the
// fid must be open for I/O.
func (c *srvConn) onFile(num uint32, open bool, fn func(File) (Message, error)) (Message, error) {
	return c.withFid(num, false, func(f *fid, file File) (Message, error) {
		if open && !f.opened {
			return nil, ebadf
		}
		return fn(file)
	})
}

func (c *srvConn) getattr(m *Tgetattr) (Message, error) {
	return c.onFile(m.FID, false, func(file File) (Message, error) {
		qid, valid, attr, err := file.GetAttr(m.Mask)
		if err != nil {
			return nil, err
		}
		return &Rgetattr{Valid: valid, QID: qid, Attr: attr}, nil
	})
}

func (c *srvConn) setattr(m *Tsetattr) (Message, error) {
	return c.onFile(m.FID, false, func(file File) (Message, error) {
		return &Rsetattr{}, file.SetAttr(m.Valid&SetAttrKnown, m.Attr)
	})
}

func (c *srvConn) statfs(m *Tstatfs) (Message, error) {
	return c.onFile(m.FID, false, func(file File) (Message, error) {
		st, err := file.StatFS()
		return &Rstatfs{FSStat: st}, err
	})
}

func (c *srvConn) lopen(m *Tlopen) (Message, error) {
	return c.withFid(m.FID, true, func(f *fid, file File) (Message, error) {
		if f.opened {
			return nil, einval
		}
		qid, iounit, err := file.Open(m.Flags)
		if err != nil {
			return nil, err
		}
		f.opened, f.flags = true, m.Flags
		return &Rlopen{QID: qid, IOUnit: iounit}, nil
	})
}

func (c *srvConn) lcreate(m *Tlcreate) (Message, error) {
	if err := checkName(m.Name); err != nil {
		return nil, err
	}
	return c.withFid(m.FID, true, func(f *fid, dir File) (Message, error) {
		if f.opened {
			return nil, einval
		}
		nf, qid, iounit, err := dir.Create(m.Name, m.Flags, m.Mode, m.GID)
		if err != nil {
			return nil, err
		}
		if nf == nil {
			return nil, eio
		}
		// The fid is now the new file, open; nobody else holds the
		// directory.
		f.file, f.opened, f.flags = nf, true, m.Flags
		c.closeFile(dir)
		return &Rlcreate{QID: qid, IOUnit: iounit}, nil
	})
}

// rreadReply is an Rread read in place: b holds room for the header, then
// the data, in a pooled buffer that writeReply gives back.
type rreadReply struct{ b []byte }

func (*rreadReply) Type() MsgType { return MsgRread }
func (r *rreadReply) encode(e *encoder) {
	e.u32(uint32(len(r.b) - rreadHeaderSize))
	e.b = append(e.b, r.b[rreadHeaderSize:]...)
}
func (*rreadReply) decode(d *decoder) { d.fail("rreadReply is not decoded") }

// frame fills in the header for tag and returns the whole message.
func (r *rreadReply) frame(tag uint16) []byte {
	binary.LittleEndian.PutUint32(r.b, uint32(len(r.b)))
	r.b[4] = uint8(MsgRread)
	binary.LittleEndian.PutUint16(r.b[5:], tag)
	binary.LittleEndian.PutUint32(r.b[7:], uint32(len(r.b)-rreadHeaderSize))
	return r.b
}

func (c *srvConn) read(m *Tread) (Message, error) {
	f, done, err := c.use(m.FID, false)
	if err != nil {
		return nil, err
	}
	defer done()
	count := min(m.Count, c.negotiated()-rreadHeaderSize)
	if f.kind == fidXattrRead {
		return f.xattr.read(m.Offset, count), nil
	}
	file, err := f.openFile()
	if err != nil {
		return nil, err
	}
	if !f.flags.readable() {
		return nil, ebadf
	}
	if m.Offset > math.MaxInt64 {
		return nil, einval
	}
	b := getBuf(rreadHeaderSize + int(count))
	n, err := file.ReadAt(b[rreadHeaderSize:], int64(m.Offset))
	if n < 0 || n > int(count) {
		putBuf(b)
		return nil, eio
	}
	if err != nil && err != io.EOF && n == 0 {
		putBuf(b)
		return nil, err
	}
	return &rreadReply{b: b[:rreadHeaderSize+n]}, nil
}

func (c *srvConn) write(m *Twrite) (Message, error) {
	f, done, err := c.use(m.FID, false)
	if err != nil {
		return nil, err
	}
	defer done()
	if f.kind == fidXattrWrite {
		if err := f.xattr.write(m.Offset, m.Data); err != nil {
			return nil, err
		}
		return &Rwrite{Count: uint32(len(m.Data))}, nil
	}
	file, err := f.openFile()
	if err != nil {
		return nil, err
	}
	if !f.flags.writable() {
		return nil, ebadf
	}
	if m.Offset > math.MaxInt64 {
		return nil, einval
	}
	n, err := file.WriteAt(m.Data, int64(m.Offset))
	if n < 0 || n > len(m.Data) {
		return nil, eio
	}
	if err != nil && n == 0 {
		return nil, err
	}
	return &Rwrite{Count: uint32(n)}, nil
}

func (c *srvConn) readdir(m *Treaddir) (Message, error) {
	count := min(m.Count, c.negotiated()-rreadHeaderSize)
	return c.onFile(m.FID, true, func(file File) (Message, error) {
		ents, err := file.Readdir(m.Offset, count)
		if err != nil {
			return nil, err
		}
		// Keep what fits count; the client continues from the last offset.
		used := 0
		for i := range ents {
			used += ents[i].size()
			if used > int(count) || len(ents[i].Name) > 0xffff {
				ents = ents[:i]
				break
			}
		}
		return &Rreaddir{Entries: ents}, nil
	})
}

func (c *srvConn) fsync(m *Tfsync) (Message, error) {
	return c.onFile(m.FID, true, func(file File) (Message, error) {
		return &Rfsync{}, file.FSync(m.DataSync != 0)
	})
}

func validLockType(t LockType) bool { return t == ReadLock || t == WriteLock || t == Unlock }

func (c *srvConn) lock(m *Tlock) (Message, error) {
	if !validLockType(m.Lock.Type) {
		return nil, einval
	}
	return c.onFile(m.FID, true, func(file File) (Message, error) {
		st, err := file.Lock(m.Flags, m.Lock)
		return &Rlock{Status: st}, err
	})
}

func (c *srvConn) getlock(m *Tgetlock) (Message, error) {
	if !validLockType(m.Lock.Type) {
		return nil, einval
	}
	return c.onFile(m.FID, true, func(file File) (Message, error) {
		got, err := file.GetLock(m.Lock)
		return &Rgetlock{Lock: got}, err
	})
}

// inDir runs fn on the File of directory fid num after checking name.
func (c *srvConn) inDir(num uint32, name string, fn func(File) (Message, error)) (Message, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	return c.onFile(num, false, fn)
}

func (c *srvConn) mkdir(m *Tmkdir) (Message, error) {
	return c.inDir(m.DirFID, m.Name, func(dir File) (Message, error) {
		qid, err := dir.Mkdir(m.Name, m.Mode, m.GID)
		return &Rmkdir{QID: qid}, err
	})
}

func (c *srvConn) symlink(m *Tsymlink) (Message, error) {
	return c.inDir(m.DirFID, m.Name, func(dir File) (Message, error) {
		qid, err := dir.Symlink(m.Target, m.Name, m.GID)
		return &Rsymlink{QID: qid}, err
	})
}

func (c *srvConn) mknod(m *Tmknod) (Message, error) {
	return c.inDir(m.DirFID, m.Name, func(dir File) (Message, error) {
		qid, err := dir.Mknod(m.Name, m.Mode, m.Major, m.Minor, m.GID)
		return &Rmknod{QID: qid}, err
	})
}

func (c *srvConn) unlinkat(m *Tunlinkat) (Message, error) {
	return c.inDir(m.DirFID, m.Name, func(dir File) (Message, error) {
		return &Runlinkat{}, dir.UnlinkAt(m.Name, m.Flags)
	})
}

// twoFiles runs fn on the Files of fids a and b.
func (c *srvConn) twoFiles(a, b uint32, fn func(fa, fb File) error) error {
	f1, f2, done, err := c.useTwo(a, b)
	if err != nil {
		return err
	}
	defer done()
	fa, err := f1.fileOf()
	if err != nil {
		return err
	}
	fb, err := f2.fileOf()
	if err != nil {
		return err
	}
	return fn(fa, fb)
}

func (c *srvConn) link(m *Tlink) (Message, error) {
	if err := checkName(m.Name); err != nil {
		return nil, err
	}
	err := c.twoFiles(m.DirFID, m.FID, func(dir, target File) error { return dir.Link(target, m.Name) })
	if err != nil {
		return nil, err
	}
	return &Rlink{}, nil
}

func (c *srvConn) renameat(m *Trenameat) (Message, error) {
	if err := checkName(m.OldName); err != nil {
		return nil, err
	}
	if err := checkName(m.NewName); err != nil {
		return nil, err
	}
	err := c.twoFiles(m.OldDirFID, m.NewDirFID, func(oldDir, newDir File) error {
		return oldDir.RenameAt(m.OldName, newDir, m.NewName)
	})
	if err != nil {
		return nil, err
	}
	return &Rrenameat{}, nil
}

func (c *srvConn) rename(m *Trename) (Message, error) {
	if err := checkName(m.Name); err != nil {
		return nil, err
	}
	err := c.twoFiles(m.FID, m.DirFID, func(file, dir File) error {
		r, ok := file.(Renamer)
		if !ok {
			return eopnotsupp
		}
		return r.Rename(dir, m.Name)
	})
	if err != nil {
		return nil, err
	}
	return &Rrename{}, nil
}

func (c *srvConn) readlink(m *Treadlink) (Message, error) {
	return c.onFile(m.FID, false, func(file File) (Message, error) {
		target, err := file.Readlink()
		if err == nil && headerSize+2+len(target) > int(c.negotiated()) {
			err = enametoolong
		}
		return &Rreadlink{Target: target}, err
	})
}

// checkXattrName: what setxattr(2) accepts as a name.
func checkXattrName(name string) error {
	if name == "" || len(name) > MaxNameLength || strings.IndexByte(name, 0) >= 0 {
		return erange
	}
	return nil
}

// xattrwalk reads a value (or, for an empty name, the list of names) into
// a new fid the client then reads and clunks.
func (c *srvConn) xattrwalk(m *Txattrwalk) (Message, error) {
	if m.Name != "" {
		if err := checkXattrName(m.Name); err != nil {
			return nil, err
		}
	}
	if err := c.checkFree(m.NewFID); err != nil {
		return nil, err
	}
	return c.onFile(m.FID, false, func(file File) (Message, error) {
		return c.readXattr(file, m)
	})
}

// readXattr reads the value or list into the new fid of m.
func (c *srvConn) readXattr(file File, m *Txattrwalk) (Message, error) {
	var data []byte
	if m.Name == "" {
		names, err := file.ListXattrs()
		if err != nil {
			return nil, err
		}
		n := 0
		for _, name := range names {
			n += len(name) + 1
		}
		if n > MaxXattrSize {
			return nil, e2big
		}
		data = make([]byte, 0, n)
		for _, name := range names {
			data = append(append(data, name...), 0)
		}
	} else {
		var err error
		if data, err = file.GetXattr(m.Name); err != nil {
			return nil, err
		}
		if len(data) > MaxXattrSize {
			return nil, e2big
		}
	}
	x := &xattrFid{name: m.Name, data: data}
	if err := c.insert(m.NewFID, nil, fidXattrRead, x, len(data)); err != nil {
		return nil, err
	}
	return &Rxattrwalk{Size: uint64(len(data))}, nil
}

// xattrcreate turns the fid into one that collects a value to set at
// Tclunk. A value of size 0 with XattrReplace is a removal: that is how
// Linux sends removexattr (the protocol cannot tell it from replacing a
// value with an empty one).
func (c *srvConn) xattrcreate(m *Txattrcreate) (Message, error) {
	if err := checkXattrName(m.Name); err != nil {
		return nil, err
	}
	if m.Size > MaxXattrSize {
		return nil, e2big
	}
	if m.Flags&^(XattrCreate|XattrReplace) != 0 {
		return nil, einval
	}
	return c.withFid(m.FID, true, func(f *fid, _ File) (Message, error) {
		if err := c.reserveXattr(f, int(m.Size)); err != nil {
			return nil, err
		}
		f.kind = fidXattrWrite
		f.xattr = &xattrFid{name: m.Name, size: m.Size, flags: m.Flags}
		return &Rxattrcreate{}, nil
	})
}

func (x *xattrFid) read(offset uint64, count uint32) *Rread {
	if offset >= uint64(len(x.data)) {
		return &Rread{}
	}
	end := min(uint64(len(x.data)), offset+uint64(count))
	return &Rread{Data: x.data[offset:end]}
}

// write appends to the value: writes must come in order and stay within
// the announced size.
func (x *xattrFid) write(offset uint64, p []byte) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if offset != uint64(len(x.data)) || uint64(len(p)) > x.size-offset {
		return einval
	}
	if x.data == nil {
		x.data = make([]byte, 0, x.size)
	}
	x.data = append(x.data, p...)
	return nil
}

// commitXattr sets (or removes) the value written to an xattr fid; the
// caller holds f exclusively.
func (f *fid) commitXattr() error {
	x := f.xattr
	if uint64(len(x.data)) != x.size {
		return einval
	}
	if x.size == 0 && x.flags == XattrReplace {
		return f.file.RemoveXattr(x.name)
	}
	return f.file.SetXattr(x.name, x.data, x.flags)
}
