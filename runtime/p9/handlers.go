package p9

import (
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
