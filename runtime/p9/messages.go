package p9

import "fmt"

// MsgType is a message's type byte.
type MsgType uint8

// The message types of 9P2000.L that Linux's v9fs uses, and Tauth.
const (
	MsgRlerror      MsgType = 7
	MsgTstatfs      MsgType = 8
	MsgRstatfs      MsgType = 9
	MsgTlopen       MsgType = 12
	MsgRlopen       MsgType = 13
	MsgTlcreate     MsgType = 14
	MsgRlcreate     MsgType = 15
	MsgTsymlink     MsgType = 16
	MsgRsymlink     MsgType = 17
	MsgTmknod       MsgType = 18
	MsgRmknod       MsgType = 19
	MsgTrename      MsgType = 20
	MsgRrename      MsgType = 21
	MsgTreadlink    MsgType = 22
	MsgRreadlink    MsgType = 23
	MsgTgetattr     MsgType = 24
	MsgRgetattr     MsgType = 25
	MsgTsetattr     MsgType = 26
	MsgRsetattr     MsgType = 27
	MsgTxattrwalk   MsgType = 30
	MsgRxattrwalk   MsgType = 31
	MsgTxattrcreate MsgType = 32
	MsgRxattrcreate MsgType = 33
	MsgTreaddir     MsgType = 40
	MsgRreaddir     MsgType = 41
	MsgTfsync       MsgType = 50
	MsgRfsync       MsgType = 51
	MsgTlock        MsgType = 52
	MsgRlock        MsgType = 53
	MsgTgetlock     MsgType = 54
	MsgRgetlock     MsgType = 55
	MsgTlink        MsgType = 70
	MsgRlink        MsgType = 71
	MsgTmkdir       MsgType = 72
	MsgRmkdir       MsgType = 73
	MsgTrenameat    MsgType = 74
	MsgRrenameat    MsgType = 75
	MsgTunlinkat    MsgType = 76
	MsgRunlinkat    MsgType = 77
	MsgTversion     MsgType = 100
	MsgRversion     MsgType = 101
	MsgTauth        MsgType = 102
	MsgRauth        MsgType = 103
	MsgTattach      MsgType = 104
	MsgRattach      MsgType = 105
	MsgTflush       MsgType = 108
	MsgRflush       MsgType = 109
	MsgTwalk        MsgType = 110
	MsgRwalk        MsgType = 111
	MsgTread        MsgType = 116
	MsgRread        MsgType = 117
	MsgTwrite       MsgType = 118
	MsgRwrite       MsgType = 119
	MsgTclunk       MsgType = 120
	MsgRclunk       MsgType = 121
	MsgTremove      MsgType = 122
	MsgRremove      MsgType = 123
)

var msgNames = map[MsgType]string{
	MsgRlerror: "Rlerror", MsgTstatfs: "Tstatfs", MsgRstatfs: "Rstatfs",
	MsgTlopen: "Tlopen", MsgRlopen: "Rlopen", MsgTlcreate: "Tlcreate", MsgRlcreate: "Rlcreate",
	MsgTsymlink: "Tsymlink", MsgRsymlink: "Rsymlink", MsgTmknod: "Tmknod", MsgRmknod: "Rmknod",
	MsgTrename: "Trename", MsgRrename: "Rrename", MsgTreadlink: "Treadlink", MsgRreadlink: "Rreadlink",
	MsgTgetattr: "Tgetattr", MsgRgetattr: "Rgetattr", MsgTsetattr: "Tsetattr", MsgRsetattr: "Rsetattr",
	MsgTxattrwalk: "Txattrwalk", MsgRxattrwalk: "Rxattrwalk",
	MsgTxattrcreate: "Txattrcreate", MsgRxattrcreate: "Rxattrcreate",
	MsgTreaddir: "Treaddir", MsgRreaddir: "Rreaddir", MsgTfsync: "Tfsync", MsgRfsync: "Rfsync",
	MsgTlock: "Tlock", MsgRlock: "Rlock", MsgTgetlock: "Tgetlock", MsgRgetlock: "Rgetlock",
	MsgTlink: "Tlink", MsgRlink: "Rlink", MsgTmkdir: "Tmkdir", MsgRmkdir: "Rmkdir",
	MsgTrenameat: "Trenameat", MsgRrenameat: "Rrenameat", MsgTunlinkat: "Tunlinkat", MsgRunlinkat: "Runlinkat",
	MsgTversion: "Tversion", MsgRversion: "Rversion", MsgTauth: "Tauth", MsgRauth: "Rauth",
	MsgTattach: "Tattach", MsgRattach: "Rattach", MsgTflush: "Tflush", MsgRflush: "Rflush",
	MsgTwalk: "Twalk", MsgRwalk: "Rwalk", MsgTread: "Tread", MsgRread: "Rread",
	MsgTwrite: "Twrite", MsgRwrite: "Rwrite", MsgTclunk: "Tclunk", MsgRclunk: "Rclunk",
	MsgTremove: "Tremove", MsgRremove: "Rremove",
}

func (t MsgType) String() string {
	if s, ok := msgNames[t]; ok {
		return s
	}
	return fmt.Sprintf("message type %d", uint8(t))
}

// newMessage returns an empty message of type t, or nil for a type this
// package does not know (9P2000 and 9P2000.u messages included).
func newMessage(t MsgType) Message {
	switch t {
	case MsgRlerror:
		return &Rlerror{}
	case MsgTstatfs:
		return &Tstatfs{}
	case MsgRstatfs:
		return &Rstatfs{}
	case MsgTlopen:
		return &Tlopen{}
	case MsgRlopen:
		return &Rlopen{}
	case MsgTlcreate:
		return &Tlcreate{}
	case MsgRlcreate:
		return &Rlcreate{}
	case MsgTsymlink:
		return &Tsymlink{}
	case MsgRsymlink:
		return &Rsymlink{}
	case MsgTmknod:
		return &Tmknod{}
	case MsgRmknod:
		return &Rmknod{}
	case MsgTrename:
		return &Trename{}
	case MsgRrename:
		return &Rrename{}
	case MsgTreadlink:
		return &Treadlink{}
	case MsgRreadlink:
		return &Rreadlink{}
	case MsgTgetattr:
		return &Tgetattr{}
	case MsgRgetattr:
		return &Rgetattr{}
	case MsgTsetattr:
		return &Tsetattr{}
	case MsgRsetattr:
		return &Rsetattr{}
	case MsgTxattrwalk:
		return &Txattrwalk{}
	case MsgRxattrwalk:
		return &Rxattrwalk{}
	case MsgTxattrcreate:
		return &Txattrcreate{}
	case MsgRxattrcreate:
		return &Rxattrcreate{}
	case MsgTreaddir:
		return &Treaddir{}
	case MsgRreaddir:
		return &Rreaddir{}
	case MsgTfsync:
		return &Tfsync{}
	case MsgRfsync:
		return &Rfsync{}
	case MsgTlock:
		return &Tlock{}
	case MsgRlock:
		return &Rlock{}
	case MsgTgetlock:
		return &Tgetlock{}
	case MsgRgetlock:
		return &Rgetlock{}
	case MsgTlink:
		return &Tlink{}
	case MsgRlink:
		return &Rlink{}
	case MsgTmkdir:
		return &Tmkdir{}
	case MsgRmkdir:
		return &Rmkdir{}
	case MsgTrenameat:
		return &Trenameat{}
	case MsgRrenameat:
		return &Rrenameat{}
	case MsgTunlinkat:
		return &Tunlinkat{}
	case MsgRunlinkat:
		return &Runlinkat{}
	case MsgTversion:
		return &Tversion{}
	case MsgRversion:
		return &Rversion{}
	case MsgTauth:
		return &Tauth{}
	case MsgRauth:
		return &Rauth{}
	case MsgTattach:
		return &Tattach{}
	case MsgRattach:
		return &Rattach{}
	case MsgTflush:
		return &Tflush{}
	case MsgRflush:
		return &Rflush{}
	case MsgTwalk:
		return &Twalk{}
	case MsgRwalk:
		return &Rwalk{}
	case MsgTread:
		return &Tread{}
	case MsgRread:
		return &Rread{}
	case MsgTwrite:
		return &Twrite{}
	case MsgRwrite:
		return &Rwrite{}
	case MsgTclunk:
		return &Tclunk{}
	case MsgRclunk:
		return &Rclunk{}
	case MsgTremove:
		return &Tremove{}
	case MsgRremove:
		return &Rremove{}
	}
	return nil
}

// Rlerror: ecode[4], a Linux errno.
type Rlerror struct{ Errno uint32 }

func (*Rlerror) Type() MsgType       { return MsgRlerror }
func (m *Rlerror) encode(e *encoder) { e.u32(m.Errno) }
func (m *Rlerror) decode(d *decoder) { m.Errno = d.u32() }

// Tversion: msize[4] version[s].
type Tversion struct {
	MSize   uint32
	Version string
}

func (*Tversion) Type() MsgType       { return MsgTversion }
func (m *Tversion) encode(e *encoder) { e.u32(m.MSize); e.str(m.Version) }
func (m *Tversion) decode(d *decoder) { m.MSize = d.u32(); m.Version = d.str() }

// Rversion: msize[4] version[s].
type Rversion struct {
	MSize   uint32
	Version string
}

func (*Rversion) Type() MsgType       { return MsgRversion }
func (m *Rversion) encode(e *encoder) { e.u32(m.MSize); e.str(m.Version) }
func (m *Rversion) decode(d *decoder) { m.MSize = d.u32(); m.Version = d.str() }

// Tauth: afid[4] uname[s] aname[s] n_uname[4].
type Tauth struct {
	AFID   uint32
	UName  string
	AName  string
	NUName UID
}

func (*Tauth) Type() MsgType { return MsgTauth }
func (m *Tauth) encode(e *encoder) {
	e.u32(m.AFID)
	e.str(m.UName)
	e.str(m.AName)
	e.u32(uint32(m.NUName))
}
func (m *Tauth) decode(d *decoder) {
	m.AFID = d.u32()
	m.UName = d.str()
	m.AName = d.str()
	m.NUName = UID(d.u32())
}

// Rauth: aqid[13].
type Rauth struct{ AQID QID }

func (*Rauth) Type() MsgType       { return MsgRauth }
func (m *Rauth) encode(e *encoder) { e.qid(m.AQID) }
func (m *Rauth) decode(d *decoder) { m.AQID = d.qid() }

// Tattach: fid[4] afid[4] uname[s] aname[s] n_uname[4].
type Tattach struct {
	FID    uint32
	AFID   uint32
	UName  string
	AName  string
	NUName UID
}

func (*Tattach) Type() MsgType { return MsgTattach }
func (m *Tattach) encode(e *encoder) {
	e.u32(m.FID)
	e.u32(m.AFID)
	e.str(m.UName)
	e.str(m.AName)
	e.u32(uint32(m.NUName))
}
func (m *Tattach) decode(d *decoder) {
	m.FID = d.u32()
	m.AFID = d.u32()
	m.UName = d.str()
	m.AName = d.str()
	m.NUName = UID(d.u32())
}

// Rattach: qid[13].
type Rattach struct{ QID QID }

func (*Rattach) Type() MsgType       { return MsgRattach }
func (m *Rattach) encode(e *encoder) { e.qid(m.QID) }
func (m *Rattach) decode(d *decoder) { m.QID = d.qid() }

// Tflush: oldtag[2].
type Tflush struct{ OldTag uint16 }

func (*Tflush) Type() MsgType       { return MsgTflush }
func (m *Tflush) encode(e *encoder) { e.u16(m.OldTag) }
func (m *Tflush) decode(d *decoder) { m.OldTag = d.u16() }

// Rflush: empty.
type Rflush struct{}

func (*Rflush) Type() MsgType   { return MsgRflush }
func (*Rflush) encode(*encoder) {}
func (*Rflush) decode(*decoder) {}

// Twalk: fid[4] newfid[4] nwname[2] nwname*(wname[s]). At most
// MaxWalkNames names; more is malformed.
type Twalk struct {
	FID    uint32
	NewFID uint32
	Names  []string
}

func (*Twalk) Type() MsgType { return MsgTwalk }
func (m *Twalk) encode(e *encoder) {
	e.u32(m.FID)
	e.u32(m.NewFID)
	if len(m.Names) > 0xffff && e.err == nil {
		e.err = fmt.Errorf("p9: walk of %d names", len(m.Names))
	}
	e.u16(uint16(len(m.Names)))
	for _, n := range m.Names {
		e.str(n)
	}
}
func (m *Twalk) decode(d *decoder) {
	m.FID = d.u32()
	m.NewFID = d.u32()
	n := int(d.u16())
	if d.err != nil {
		return
	}
	if n > MaxWalkNames {
		d.fail("walk of %d names, at most %d", n, MaxWalkNames)
		return
	}
	if 2*n > len(d.b) {
		d.fail("walk of %d names in %d bytes", n, len(d.b))
		return
	}
	if n > 0 {
		m.Names = make([]string, 0, n)
	}
	for range n {
		m.Names = append(m.Names, d.str())
	}
}

// Rwalk: nwqid[2] nwqid*(qid[13]).
type Rwalk struct{ QIDs []QID }

func (*Rwalk) Type() MsgType { return MsgRwalk }
func (m *Rwalk) encode(e *encoder) {
	e.u16(uint16(len(m.QIDs)))
	for _, q := range m.QIDs {
		e.qid(q)
	}
}
func (m *Rwalk) decode(d *decoder) {
	n := int(d.u16())
	if d.err != nil {
		return
	}
	if n > MaxWalkNames {
		d.fail("walk of %d qids, at most %d", n, MaxWalkNames)
		return
	}
	if n*qidSize > len(d.b) {
		d.fail("%d qids in %d bytes", n, len(d.b))
		return
	}
	if n > 0 {
		m.QIDs = make([]QID, n)
	}
	for i := range n {
		m.QIDs[i] = d.qid()
	}
}

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

// Tclunk: fid[4].
type Tclunk struct{ FID uint32 }

func (*Tclunk) Type() MsgType       { return MsgTclunk }
func (m *Tclunk) encode(e *encoder) { e.u32(m.FID) }
func (m *Tclunk) decode(d *decoder) { m.FID = d.u32() }

// Rclunk: empty.
type Rclunk struct{}

func (*Rclunk) Type() MsgType   { return MsgRclunk }
func (*Rclunk) encode(*encoder) {}
func (*Rclunk) decode(*decoder) {}

// Tremove: fid[4].
type Tremove struct{ FID uint32 }

func (*Tremove) Type() MsgType       { return MsgTremove }
func (m *Tremove) encode(e *encoder) { e.u32(m.FID) }
func (m *Tremove) decode(d *decoder) { m.FID = d.u32() }

// Rremove: empty.
type Rremove struct{}

func (*Rremove) Type() MsgType   { return MsgRremove }
func (*Rremove) encode(*encoder) {}
func (*Rremove) decode(*decoder) {}

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

// Tsymlink: fid[4] name[s] symtgt[s] gid[4].
type Tsymlink struct {
	DirFID uint32
	Name   string
	Target string
	GID    GID
}

func (*Tsymlink) Type() MsgType { return MsgTsymlink }
func (m *Tsymlink) encode(e *encoder) {
	e.u32(m.DirFID)
	e.str(m.Name)
	e.str(m.Target)
	e.u32(uint32(m.GID))
}
func (m *Tsymlink) decode(d *decoder) {
	m.DirFID = d.u32()
	m.Name = d.str()
	m.Target = d.str()
	m.GID = GID(d.u32())
}

// Rsymlink: qid[13].
type Rsymlink struct{ QID QID }

func (*Rsymlink) Type() MsgType       { return MsgRsymlink }
func (m *Rsymlink) encode(e *encoder) { e.qid(m.QID) }
func (m *Rsymlink) decode(d *decoder) { m.QID = d.qid() }

// Tmknod: dfid[4] name[s] mode[4] major[4] minor[4] gid[4].
type Tmknod struct {
	DirFID uint32
	Name   string
	Mode   FileMode
	Major  uint32
	Minor  uint32
	GID    GID
}

func (*Tmknod) Type() MsgType { return MsgTmknod }
func (m *Tmknod) encode(e *encoder) {
	e.u32(m.DirFID)
	e.str(m.Name)
	e.u32(uint32(m.Mode))
	e.u32(m.Major)
	e.u32(m.Minor)
	e.u32(uint32(m.GID))
}
func (m *Tmknod) decode(d *decoder) {
	m.DirFID = d.u32()
	m.Name = d.str()
	m.Mode = FileMode(d.u32())
	m.Major = d.u32()
	m.Minor = d.u32()
	m.GID = GID(d.u32())
}

// Rmknod: qid[13].
type Rmknod struct{ QID QID }

func (*Rmknod) Type() MsgType       { return MsgRmknod }
func (m *Rmknod) encode(e *encoder) { e.qid(m.QID) }
func (m *Rmknod) decode(d *decoder) { m.QID = d.qid() }

// Trename: fid[4] dfid[4] name[s].
type Trename struct {
	FID    uint32
	DirFID uint32
	Name   string
}

func (*Trename) Type() MsgType       { return MsgTrename }
func (m *Trename) encode(e *encoder) { e.u32(m.FID); e.u32(m.DirFID); e.str(m.Name) }
func (m *Trename) decode(d *decoder) { m.FID = d.u32(); m.DirFID = d.u32(); m.Name = d.str() }

// Rrename: empty.
type Rrename struct{}

func (*Rrename) Type() MsgType   { return MsgRrename }
func (*Rrename) encode(*encoder) {}
func (*Rrename) decode(*decoder) {}

// Treadlink: fid[4].
type Treadlink struct{ FID uint32 }

func (*Treadlink) Type() MsgType       { return MsgTreadlink }
func (m *Treadlink) encode(e *encoder) { e.u32(m.FID) }
func (m *Treadlink) decode(d *decoder) { m.FID = d.u32() }

// Rreadlink: target[s].
type Rreadlink struct{ Target string }

func (*Rreadlink) Type() MsgType       { return MsgRreadlink }
func (m *Rreadlink) encode(e *encoder) { e.str(m.Target) }
func (m *Rreadlink) decode(d *decoder) { m.Target = d.str() }

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

// Txattrwalk: fid[4] newfid[4] name[s]. An empty name lists the names.
type Txattrwalk struct {
	FID    uint32
	NewFID uint32
	Name   string
}

func (*Txattrwalk) Type() MsgType       { return MsgTxattrwalk }
func (m *Txattrwalk) encode(e *encoder) { e.u32(m.FID); e.u32(m.NewFID); e.str(m.Name) }
func (m *Txattrwalk) decode(d *decoder) { m.FID = d.u32(); m.NewFID = d.u32(); m.Name = d.str() }

// Rxattrwalk: size[8].
type Rxattrwalk struct{ Size uint64 }

func (*Rxattrwalk) Type() MsgType       { return MsgRxattrwalk }
func (m *Rxattrwalk) encode(e *encoder) { e.u64(m.Size) }
func (m *Rxattrwalk) decode(d *decoder) { m.Size = d.u64() }

// Txattrcreate: fid[4] name[s] attr_size[8] flags[4]. The value is then
// written to fid, and set when fid is clunked.
type Txattrcreate struct {
	FID   uint32
	Name  string
	Size  uint64
	Flags XattrFlags
}

func (*Txattrcreate) Type() MsgType { return MsgTxattrcreate }
func (m *Txattrcreate) encode(e *encoder) {
	e.u32(m.FID)
	e.str(m.Name)
	e.u64(m.Size)
	e.u32(uint32(m.Flags))
}
func (m *Txattrcreate) decode(d *decoder) {
	m.FID = d.u32()
	m.Name = d.str()
	m.Size = d.u64()
	m.Flags = XattrFlags(d.u32())
}

// Rxattrcreate: empty.
type Rxattrcreate struct{}

func (*Rxattrcreate) Type() MsgType   { return MsgRxattrcreate }
func (*Rxattrcreate) encode(*encoder) {}
func (*Rxattrcreate) decode(*decoder) {}

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

// Tlink: dfid[4] fid[4] name[s].
type Tlink struct {
	DirFID uint32
	FID    uint32
	Name   string
}

func (*Tlink) Type() MsgType       { return MsgTlink }
func (m *Tlink) encode(e *encoder) { e.u32(m.DirFID); e.u32(m.FID); e.str(m.Name) }
func (m *Tlink) decode(d *decoder) { m.DirFID = d.u32(); m.FID = d.u32(); m.Name = d.str() }

// Rlink: empty.
type Rlink struct{}

func (*Rlink) Type() MsgType   { return MsgRlink }
func (*Rlink) encode(*encoder) {}
func (*Rlink) decode(*decoder) {}

// Tmkdir: dfid[4] name[s] mode[4] gid[4].
type Tmkdir struct {
	DirFID uint32
	Name   string
	Mode   FileMode
	GID    GID
}

func (*Tmkdir) Type() MsgType { return MsgTmkdir }
func (m *Tmkdir) encode(e *encoder) {
	e.u32(m.DirFID)
	e.str(m.Name)
	e.u32(uint32(m.Mode))
	e.u32(uint32(m.GID))
}
func (m *Tmkdir) decode(d *decoder) {
	m.DirFID = d.u32()
	m.Name = d.str()
	m.Mode = FileMode(d.u32())
	m.GID = GID(d.u32())
}

// Rmkdir: qid[13].
type Rmkdir struct{ QID QID }

func (*Rmkdir) Type() MsgType       { return MsgRmkdir }
func (m *Rmkdir) encode(e *encoder) { e.qid(m.QID) }
func (m *Rmkdir) decode(d *decoder) { m.QID = d.qid() }

// Trenameat: olddirfid[4] oldname[s] newdirfid[4] newname[s].
type Trenameat struct {
	OldDirFID uint32
	OldName   string
	NewDirFID uint32
	NewName   string
}

func (*Trenameat) Type() MsgType { return MsgTrenameat }
func (m *Trenameat) encode(e *encoder) {
	e.u32(m.OldDirFID)
	e.str(m.OldName)
	e.u32(m.NewDirFID)
	e.str(m.NewName)
}
func (m *Trenameat) decode(d *decoder) {
	m.OldDirFID = d.u32()
	m.OldName = d.str()
	m.NewDirFID = d.u32()
	m.NewName = d.str()
}

// Rrenameat: empty.
type Rrenameat struct{}

func (*Rrenameat) Type() MsgType   { return MsgRrenameat }
func (*Rrenameat) encode(*encoder) {}
func (*Rrenameat) decode(*decoder) {}

// Tunlinkat: dirfd[4] name[s] flags[4].
type Tunlinkat struct {
	DirFID uint32
	Name   string
	Flags  uint32
}

func (*Tunlinkat) Type() MsgType       { return MsgTunlinkat }
func (m *Tunlinkat) encode(e *encoder) { e.u32(m.DirFID); e.str(m.Name); e.u32(m.Flags) }
func (m *Tunlinkat) decode(d *decoder) { m.DirFID = d.u32(); m.Name = d.str(); m.Flags = d.u32() }

// Runlinkat: empty.
type Runlinkat struct{}

func (*Runlinkat) Type() MsgType   { return MsgRunlinkat }
func (*Runlinkat) encode(*encoder) {}
func (*Runlinkat) decode(*decoder) {}
