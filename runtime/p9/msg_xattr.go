package p9

// Extended attribute messages: a value is read or written through a fid
// of its own.

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
