package p9

// Messages on a file: attributes, open and create, I/O, directory
// listing, sync and POSIX locks.

// Tread: fid[4] offset[8] count[4].
type Tread struct {
	FID    uint32
	Offset uint64
	Count  uint32
}

func (*Tread) Type() MsgType       { return MsgTread }
func (m *Tread) encode(e *encoder) { e.u32(m.FID); e.u64(m.Offset); e.u32(m.Count) }
func (m *Tread) decode(d *decoder) { m.FID = d.u32(); m.Offset = d.u64(); m.Count = d.u32() }

// Rread: count[4] data[count].
type Rread struct{ Data []byte }

func (*Rread) Type() MsgType { return MsgRread }
func (m *Rread) encode(e *encoder) {
	e.u32(uint32(len(m.Data)))
	e.b = append(e.b, m.Data...)
}
func (m *Rread) decode(d *decoder) { m.Data = d.data() }

// Twrite: fid[4] offset[8] count[4] data[count].
type Twrite struct {
	FID    uint32
	Offset uint64
	Data   []byte
}

func (*Twrite) Type() MsgType { return MsgTwrite }
func (m *Twrite) encode(e *encoder) {
	e.u32(m.FID)
	e.u64(m.Offset)
	e.u32(uint32(len(m.Data)))
	e.b = append(e.b, m.Data...)
}
func (m *Twrite) decode(d *decoder) { m.FID = d.u32(); m.Offset = d.u64(); m.Data = d.data() }

// Rwrite: count[4].
type Rwrite struct{ Count uint32 }

func (*Rwrite) Type() MsgType       { return MsgRwrite }
func (m *Rwrite) encode(e *encoder) { e.u32(m.Count) }
func (m *Rwrite) decode(d *decoder) { m.Count = d.u32() }

// Tstatfs: fid[4].
type Tstatfs struct{ FID uint32 }

func (*Tstatfs) Type() MsgType       { return MsgTstatfs }
func (m *Tstatfs) encode(e *encoder) { e.u32(m.FID) }
func (m *Tstatfs) decode(d *decoder) { m.FID = d.u32() }

// Rstatfs: type[4] bsize[4] blocks[8] bfree[8] bavail[8] files[8] ffree[8]
// fsid[8] namelen[4].
type Rstatfs struct{ FSStat FSStat }

func (*Rstatfs) Type() MsgType { return MsgRstatfs }
func (m *Rstatfs) encode(e *encoder) {
	s := &m.FSStat
	e.u32(s.Type)
	e.u32(s.BlockSize)
	e.u64(s.Blocks)
	e.u64(s.BlocksFree)
	e.u64(s.BlocksAvailable)
	e.u64(s.Files)
	e.u64(s.FilesFree)
	e.u64(s.FSID)
	e.u32(s.NameLength)
}
func (m *Rstatfs) decode(d *decoder) {
	s := &m.FSStat
	s.Type = d.u32()
	s.BlockSize = d.u32()
	s.Blocks = d.u64()
	s.BlocksFree = d.u64()
	s.BlocksAvailable = d.u64()
	s.Files = d.u64()
	s.FilesFree = d.u64()
	s.FSID = d.u64()
	s.NameLength = d.u32()
}

// Tlopen: fid[4] flags[4].
type Tlopen struct {
	FID   uint32
	Flags OpenFlags
}

func (*Tlopen) Type() MsgType       { return MsgTlopen }
func (m *Tlopen) encode(e *encoder) { e.u32(m.FID); e.u32(uint32(m.Flags)) }
func (m *Tlopen) decode(d *decoder) { m.FID = d.u32(); m.Flags = OpenFlags(d.u32()) }

// Rlopen: qid[13] iounit[4].
type Rlopen struct {
	QID    QID
	IOUnit uint32
}

func (*Rlopen) Type() MsgType       { return MsgRlopen }
func (m *Rlopen) encode(e *encoder) { e.qid(m.QID); e.u32(m.IOUnit) }
func (m *Rlopen) decode(d *decoder) { m.QID = d.qid(); m.IOUnit = d.u32() }

// Tlcreate: fid[4] name[s] flags[4] mode[4] gid[4]. fid is the directory;
// after success it is the new file, open.
type Tlcreate struct {
	FID   uint32
	Name  string
	Flags OpenFlags
	Mode  FileMode
	GID   GID
}

func (*Tlcreate) Type() MsgType { return MsgTlcreate }
func (m *Tlcreate) encode(e *encoder) {
	e.u32(m.FID)
	e.str(m.Name)
	e.u32(uint32(m.Flags))
	e.u32(uint32(m.Mode))
	e.u32(uint32(m.GID))
}
func (m *Tlcreate) decode(d *decoder) {
	m.FID = d.u32()
	m.Name = d.str()
	m.Flags = OpenFlags(d.u32())
	m.Mode = FileMode(d.u32())
	m.GID = GID(d.u32())
}

// Rlcreate: qid[13] iounit[4].
type Rlcreate struct {
	QID    QID
	IOUnit uint32
}

func (*Rlcreate) Type() MsgType       { return MsgRlcreate }
func (m *Rlcreate) encode(e *encoder) { e.qid(m.QID); e.u32(m.IOUnit) }
func (m *Rlcreate) decode(d *decoder) { m.QID = d.qid(); m.IOUnit = d.u32() }

// Tgetattr: fid[4] request_mask[8].
type Tgetattr struct {
	FID  uint32
	Mask AttrMask
}

func (*Tgetattr) Type() MsgType       { return MsgTgetattr }
func (m *Tgetattr) encode(e *encoder) { e.u32(m.FID); e.u64(uint64(m.Mask)) }
func (m *Tgetattr) decode(d *decoder) { m.FID = d.u32(); m.Mask = AttrMask(d.u64()) }

// Rgetattr: valid[8] qid[13] mode[4] uid[4] gid[4] nlink[8] rdev[8]
// size[8] blksize[8] blocks[8] atime_sec[8] atime_nsec[8] mtime_sec[8]
// mtime_nsec[8] ctime_sec[8] ctime_nsec[8] btime_sec[8] btime_nsec[8]
// gen[8] data_version[8].
type Rgetattr struct {
	Valid AttrMask
	QID   QID
	Attr  Attr
}

func (*Rgetattr) Type() MsgType { return MsgRgetattr }
func (m *Rgetattr) encode(e *encoder) {
	a := &m.Attr
	e.u64(uint64(m.Valid))
	e.qid(m.QID)
	e.u32(uint32(a.Mode))
	e.u32(uint32(a.UID))
	e.u32(uint32(a.GID))
	for _, v := range [...]uint64{a.NLink, a.RDev, a.Size, a.BlockSize, a.Blocks,
		a.ATimeSec, a.ATimeNsec, a.MTimeSec, a.MTimeNsec, a.CTimeSec, a.CTimeNsec,
		a.BTimeSec, a.BTimeNsec, a.Gen, a.DataVersion} {
		e.u64(v)
	}
}
func (m *Rgetattr) decode(d *decoder) {
	a := &m.Attr
	m.Valid = AttrMask(d.u64())
	m.QID = d.qid()
	a.Mode = FileMode(d.u32())
	a.UID = UID(d.u32())
	a.GID = GID(d.u32())
	for _, p := range [...]*uint64{&a.NLink, &a.RDev, &a.Size, &a.BlockSize, &a.Blocks,
		&a.ATimeSec, &a.ATimeNsec, &a.MTimeSec, &a.MTimeNsec, &a.CTimeSec, &a.CTimeNsec,
		&a.BTimeSec, &a.BTimeNsec, &a.Gen, &a.DataVersion} {
		*p = d.u64()
	}
}

// Tsetattr: fid[4] valid[4] mode[4] uid[4] gid[4] size[8] atime_sec[8]
// atime_nsec[8] mtime_sec[8] mtime_nsec[8].
type Tsetattr struct {
	FID   uint32
	Valid SetAttrMask
	Attr  SetAttr
}

func (*Tsetattr) Type() MsgType { return MsgTsetattr }
func (m *Tsetattr) encode(e *encoder) {
	a := &m.Attr
	e.u32(m.FID)
	e.u32(uint32(m.Valid))
	e.u32(uint32(a.Mode))
	e.u32(uint32(a.UID))
	e.u32(uint32(a.GID))
	e.u64(a.Size)
	e.u64(a.ATimeSec)
	e.u64(a.ATimeNsec)
	e.u64(a.MTimeSec)
	e.u64(a.MTimeNsec)
}
func (m *Tsetattr) decode(d *decoder) {
	a := &m.Attr
	m.FID = d.u32()
	m.Valid = SetAttrMask(d.u32())
	a.Mode = FileMode(d.u32())
	a.UID = UID(d.u32())
	a.GID = GID(d.u32())
	a.Size = d.u64()
	a.ATimeSec = d.u64()
	a.ATimeNsec = d.u64()
	a.MTimeSec = d.u64()
	a.MTimeNsec = d.u64()
}

// Rsetattr: empty.
type Rsetattr struct{}

func (*Rsetattr) Type() MsgType   { return MsgRsetattr }
func (*Rsetattr) encode(*encoder) {}
func (*Rsetattr) decode(*decoder) {}

// Treaddir: fid[4] offset[8] count[4].
type Treaddir struct {
	FID    uint32
	Offset uint64
	Count  uint32
}

func (*Treaddir) Type() MsgType       { return MsgTreaddir }
func (m *Treaddir) encode(e *encoder) { e.u32(m.FID); e.u64(m.Offset); e.u32(m.Count) }
func (m *Treaddir) decode(d *decoder) { m.FID = d.u32(); m.Offset = d.u64(); m.Count = d.u32() }

// Rreaddir: count[4] data[count], data being entries of qid[13] offset[8]
// type[1] name[s].
type Rreaddir struct{ Entries []Dirent }

func (*Rreaddir) Type() MsgType { return MsgRreaddir }
func (m *Rreaddir) encode(e *encoder) {
	n := 0
	for i := range m.Entries {
		n += m.Entries[i].size()
	}
	e.u32(uint32(n))
	for i := range m.Entries {
		encodeDirent(e, &m.Entries[i])
	}
}
func (m *Rreaddir) decode(d *decoder) {
	data := d.data()
	if d.err != nil {
		return
	}
	ed := decoder{b: data}
	for len(ed.b) > 0 && ed.err == nil {
		var ent Dirent
		ent.QID = ed.qid()
		ent.Offset = ed.u64()
		ent.Type = ed.u8()
		ent.Name = ed.str()
		if ed.err == nil {
			m.Entries = append(m.Entries, ent)
		}
	}
	if ed.err != nil {
		d.fail("entry: %v", ed.err)
	}
}

func encodeDirent(e *encoder, ent *Dirent) {
	e.qid(ent.QID)
	e.u64(ent.Offset)
	e.u8(ent.Type)
	e.str(ent.Name)
}

// Tfsync: fid[4] datasync[4].
type Tfsync struct {
	FID      uint32
	DataSync uint32
}

func (*Tfsync) Type() MsgType       { return MsgTfsync }
func (m *Tfsync) encode(e *encoder) { e.u32(m.FID); e.u32(m.DataSync) }
func (m *Tfsync) decode(d *decoder) { m.FID = d.u32(); m.DataSync = d.u32() }

// Rfsync: empty.
type Rfsync struct{}

func (*Rfsync) Type() MsgType   { return MsgRfsync }
func (*Rfsync) encode(*encoder) {}
func (*Rfsync) decode(*decoder) {}

// Tlock: fid[4] type[1] flags[4] start[8] length[8] proc_id[4]
// client_id[s].
type Tlock struct {
	FID   uint32
	Flags LockFlags
	Lock  LockInfo
}

func (*Tlock) Type() MsgType { return MsgTlock }
func (m *Tlock) encode(e *encoder) {
	e.u32(m.FID)
	e.u8(uint8(m.Lock.Type))
	e.u32(uint32(m.Flags))
	e.u64(m.Lock.Start)
	e.u64(m.Lock.Length)
	e.u32(m.Lock.ProcID)
	e.str(m.Lock.ClientID)
}
func (m *Tlock) decode(d *decoder) {
	m.FID = d.u32()
	m.Lock.Type = LockType(d.u8())
	m.Flags = LockFlags(d.u32())
	m.Lock.Start = d.u64()
	m.Lock.Length = d.u64()
	m.Lock.ProcID = d.u32()
	m.Lock.ClientID = d.str()
}

// Rlock: status[1].
type Rlock struct{ Status LockStatus }

func (*Rlock) Type() MsgType       { return MsgRlock }
func (m *Rlock) encode(e *encoder) { e.u8(uint8(m.Status)) }
func (m *Rlock) decode(d *decoder) { m.Status = LockStatus(d.u8()) }

// Tgetlock: fid[4] type[1] start[8] length[8] proc_id[4] client_id[s].
type Tgetlock struct {
	FID  uint32
	Lock LockInfo
}

func (*Tgetlock) Type() MsgType       { return MsgTgetlock }
func (m *Tgetlock) encode(e *encoder) { e.u32(m.FID); encodeLockInfo(e, &m.Lock) }
func (m *Tgetlock) decode(d *decoder) { m.FID = d.u32(); decodeLockInfo(d, &m.Lock) }

// Rgetlock: type[1] start[8] length[8] proc_id[4] client_id[s].
type Rgetlock struct{ Lock LockInfo }

func (*Rgetlock) Type() MsgType       { return MsgRgetlock }
func (m *Rgetlock) encode(e *encoder) { encodeLockInfo(e, &m.Lock) }
func (m *Rgetlock) decode(d *decoder) { decodeLockInfo(d, &m.Lock) }

func encodeLockInfo(e *encoder, l *LockInfo) {
	e.u8(uint8(l.Type))
	e.u64(l.Start)
	e.u64(l.Length)
	e.u32(l.ProcID)
	e.str(l.ClientID)
}

func decodeLockInfo(d *decoder, l *LockInfo) {
	l.Type = LockType(d.u8())
	l.Start = d.u64()
	l.Length = d.u64()
	l.ProcID = d.u32()
	l.ClientID = d.str()
}
