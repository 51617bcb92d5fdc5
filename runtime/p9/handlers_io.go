package p9

import (
	"encoding/binary"
	"io"
	"math"

	"github.com/runxen/runxen/runtime/internal/bufpool"
)

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
	b := bufpool.Get(rreadHeaderSize + int(count))
	n, err := file.ReadAt(b[rreadHeaderSize:], int64(m.Offset))
	if n < 0 || n > int(count) {
		bufpool.Put(b)
		return nil, eio
	}
	if err != nil && err != io.EOF && n == 0 {
		bufpool.Put(b)
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
