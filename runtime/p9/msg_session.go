package p9

import "fmt"

// Session messages: version, attach and auth, walk, clunk, remove, flush
// and the error reply.

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
