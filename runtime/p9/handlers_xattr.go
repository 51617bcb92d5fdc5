package p9

import (
	"strings"
)

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
