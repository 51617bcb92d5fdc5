package p9

// Directory messages: making, linking, renaming and removing names, and
// reading symlinks.

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
