package p9

// The protocol's value types. Numbers are the Linux ones 9P2000.L carries
// (include/net/9p/9p.h, diod's protocol.md): file modes, open flags, setattr
// bits and errnos are Linux's generic values whatever the architecture.

// Protocol constants.
const (
	// Version is the only protocol version spoken.
	Version = "9P2000.L"

	// NoTag is the tag of Tversion.
	NoTag uint16 = 0xffff
	// NoFID is the "no fid" value (Tattach's afid without authentication).
	NoFID uint32 = 0xffffffff

	// MaxWalkNames is the most names one Twalk may carry (P9_MAXWELEM).
	MaxWalkNames = 16

	// MaxNameLength is the longest name the server accepts in a walk or
	// a creation (Linux's NAME_MAX).
	MaxNameLength = 255

	// MinMessageSize is the smallest msize agreed to: Linux refuses less,
	// and every fixed-size message fits.
	MinMessageSize = 4096

	// MaxXattrSize is the largest extended attribute value (Linux's
	// XATTR_SIZE_MAX), and the largest attribute list (XATTR_LIST_MAX).
	MaxXattrSize = 64 << 10

	// headerSize is size[4] type[1] tag[2].
	headerSize = 7
	// ioHeaderSize is the room Linux leaves for a Tread/Twrite/Treaddir
	// header when it sizes I/O (P9_IOHDRSZ): the data of one request is at
	// most msize minus this.
	ioHeaderSize = 24
	// rreadHeaderSize is size[4] type[1] tag[2] count[4] of Rread and
	// Rreaddir.
	rreadHeaderSize = headerSize + 4
)

// UID is a numeric user id; NoUID means none was given.
type UID uint32

// GID is a numeric group id; NoGID means none was given.
type GID uint32

const (
	NoUID UID = 0xffffffff
	NoGID GID = 0xffffffff
)

// Ok reports whether u is a user id rather than NoUID.
func (u UID) Ok() bool { return u != NoUID }

// Ok reports whether g is a group id rather than NoGID.
func (g GID) Ok() bool { return g != NoGID }

// QIDType is the type byte of a QID.
type QIDType uint8

const (
	TypeDir        QIDType = 0x80
	TypeAppendOnly QIDType = 0x40
	TypeExclusive  QIDType = 0x20
	TypeMount      QIDType = 0x10
	TypeAuth       QIDType = 0x08
	TypeTemporary  QIDType = 0x04
	TypeSymlink    QIDType = 0x02
	TypeLink       QIDType = 0x01
	TypeRegular    QIDType = 0x00
)

// QID identifies a file on the server: type[1] version[4] path[8]. Path is
// unique per file (an inode number), version changes with the content (0 if
// the server does not track it).
type QID struct {
	Type    QIDType
	Version uint32
	Path    uint64
}

// qidSize is the wire size of a QID.
const qidSize = 13

// FileMode is a Linux st_mode: file type and permission bits, setuid,
// setgid and sticky included.
type FileMode uint32

const (
	ModeTypeMask        FileMode = 0o170000
	ModeSocket          FileMode = 0o140000
	ModeSymlink         FileMode = 0o120000
	ModeRegular         FileMode = 0o100000
	ModeBlockDevice     FileMode = 0o060000
	ModeDirectory       FileMode = 0o040000
	ModeCharacterDevice FileMode = 0o020000
	ModeNamedPipe       FileMode = 0o010000

	// ModePermissions is every bit chmod sets: rwx for all three classes,
	// setuid, setgid and sticky.
	ModePermissions FileMode = 0o7777
	ModeSetUID      FileMode = 0o4000
	ModeSetGID      FileMode = 0o2000
	ModeSticky      FileMode = 0o1000
)

// FileType returns the type bits of m.
func (m FileMode) FileType() FileMode { return m & ModeTypeMask }

// Permissions returns the permission bits of m, setuid, setgid and sticky
// included.
func (m FileMode) Permissions() FileMode { return m & ModePermissions }

func (m FileMode) IsDir() bool     { return m.FileType() == ModeDirectory }
func (m FileMode) IsRegular() bool { return m.FileType() == ModeRegular }
func (m FileMode) IsSymlink() bool { return m.FileType() == ModeSymlink }

// QIDType returns the QID type of a file of mode m.
func (m FileMode) QIDType() QIDType {
	switch m.FileType() {
	case ModeDirectory:
		return TypeDir
	case ModeSymlink:
		return TypeSymlink
	default:
		return TypeRegular
	}
}

// OpenFlags are Tlopen and Tlcreate flags: Linux's generic open(2) values
// (P9_DOTL_*), which differ from the host's own O_ flags on some
// architectures, so a server maps them explicitly.
type OpenFlags uint32

const (
	ReadOnly  OpenFlags = 0
	WriteOnly OpenFlags = 1
	ReadWrite OpenFlags = 2
	// NoAccess is the access mode 3, which Linux uses for ioctl-only
	// opens; servers refuse it.
	NoAccess OpenFlags = 3

	OpenAccessMask OpenFlags = 3
	OpenCreate     OpenFlags = 0o100
	OpenExclusive  OpenFlags = 0o200
	OpenNoCTTY     OpenFlags = 0o400
	OpenTruncate   OpenFlags = 0o1000
	OpenAppend     OpenFlags = 0o2000
	OpenNonblock   OpenFlags = 0o4000
	OpenDSync      OpenFlags = 0o10000
	OpenAsync      OpenFlags = 0o20000
	OpenDirect     OpenFlags = 0o40000
	OpenLargeFile  OpenFlags = 0o100000
	OpenDirectory  OpenFlags = 0o200000
	OpenNoFollow   OpenFlags = 0o400000
	OpenNoATime    OpenFlags = 0o1000000
	OpenCloexec    OpenFlags = 0o2000000
	OpenSync       OpenFlags = 0o4000000
)

// AccessMode returns ReadOnly, WriteOnly, ReadWrite or NoAccess.
func (f OpenFlags) AccessMode() OpenFlags { return f & OpenAccessMask }

func (f OpenFlags) readable() bool {
	return f.AccessMode() == ReadOnly || f.AccessMode() == ReadWrite
}

func (f OpenFlags) writable() bool {
	return f.AccessMode() == WriteOnly || f.AccessMode() == ReadWrite
}

// AttrMask selects the attributes of Tgetattr and says which of Rgetattr's
// are valid (P9_STATS_*).
type AttrMask uint64

const (
	AttrMode        AttrMask = 0x1
	AttrNLink       AttrMask = 0x2
	AttrUID         AttrMask = 0x4
	AttrGID         AttrMask = 0x8
	AttrRDev        AttrMask = 0x10
	AttrATime       AttrMask = 0x20
	AttrMTime       AttrMask = 0x40
	AttrCTime       AttrMask = 0x80
	AttrIno         AttrMask = 0x100
	AttrSize        AttrMask = 0x200
	AttrBlocks      AttrMask = 0x400
	AttrBTime       AttrMask = 0x800
	AttrGen         AttrMask = 0x1000
	AttrDataVersion AttrMask = 0x2000

	// AttrBasic is everything stat(2) returns; AttrAll adds birth time,
	// generation and data version.
	AttrBasic AttrMask = 0x7ff
	AttrAll   AttrMask = 0x3fff
)

// Has reports whether every bit of x is set in m.
func (m AttrMask) Has(x AttrMask) bool { return m&x == x }

// Attr is the body of Rgetattr after its mask and QID.
type Attr struct {
	Mode        FileMode
	UID         UID
	GID         GID
	NLink       uint64
	RDev        uint64
	Size        uint64
	BlockSize   uint64
	Blocks      uint64
	ATimeSec    uint64
	ATimeNsec   uint64
	MTimeSec    uint64
	MTimeNsec   uint64
	CTimeSec    uint64
	CTimeNsec   uint64
	BTimeSec    uint64
	BTimeNsec   uint64
	Gen         uint64
	DataVersion uint64
}

// SetAttrMask says which fields of a Tsetattr to apply: Linux's ATTR_*
// iattr bits.
type SetAttrMask uint32

const (
	SetAttrMode  SetAttrMask = 0x1
	SetAttrUID   SetAttrMask = 0x2
	SetAttrGID   SetAttrMask = 0x4
	SetAttrSize  SetAttrMask = 0x8
	SetAttrATime SetAttrMask = 0x10
	SetAttrMTime SetAttrMask = 0x20
	SetAttrCTime SetAttrMask = 0x40
	// SetAttrATimeSet and SetAttrMTimeSet: the time is the one given;
	// without them, a time bit means "now".
	SetAttrATimeSet SetAttrMask = 0x80
	SetAttrMTimeSet SetAttrMask = 0x100

	// SetAttrKnown is every bit the protocol defines; a server ignores
	// the others.
	SetAttrKnown SetAttrMask = 0x1ff
)

// Has reports whether every bit of x is set in m.
func (m SetAttrMask) Has(x SetAttrMask) bool { return m&x == x }

// SetAttr is the body of Tsetattr after its mask.
type SetAttr struct {
	Mode      FileMode // permission bits (chmod); the type bits are ignored
	UID       UID
	GID       GID
	Size      uint64
	ATimeSec  uint64
	ATimeNsec uint64
	MTimeSec  uint64
	MTimeNsec uint64
}

// FSStat is the body of Rstatfs, as statfs(2) gives it.
type FSStat struct {
	Type            uint32
	BlockSize       uint32
	Blocks          uint64
	BlocksFree      uint64
	BlocksAvailable uint64
	Files           uint64
	FilesFree       uint64
	FSID            uint64
	NameLength      uint32
}

// Dirent is one entry of Rreaddir: qid[13] offset[8] type[1] name[s].
// Offset is where the next Treaddir continues after this entry; Type is
// the entry's d_type (DT_DIR, DT_REG, ...), which Linux passes on as is.
type Dirent struct {
	QID    QID
	Offset uint64
	Type   uint8
	Name   string
}

// direntFixedSize is a Dirent's size without its name.
const direntFixedSize = qidSize + 8 + 1 + 2

func (d *Dirent) size() int { return direntFixedSize + len(d.Name) }

// XattrFlags are setxattr(2)'s flags.
type XattrFlags uint32

const (
	XattrCreate  XattrFlags = 1
	XattrReplace XattrFlags = 2
)

// LockType is the type of a POSIX record lock.
type LockType uint8

const (
	ReadLock  LockType = 0
	WriteLock LockType = 1
	Unlock    LockType = 2
)

// LockFlags are Tlock's flags.
type LockFlags uint32

const (
	// LockBlock: the client waits for the lock (F_SETLKW); a server
	// answers LockBlocked and the client retries.
	LockBlock   LockFlags = 1
	LockReclaim LockFlags = 2
)

// LockStatus is Rlock's answer.
type LockStatus uint8

const (
	LockOK      LockStatus = 0
	LockBlocked LockStatus = 1
	LockError   LockStatus = 2
	LockGrace   LockStatus = 3
)

// LockInfo describes a POSIX record lock as Tlock, Tgetlock and Rgetlock
// carry it. Length 0 means "to the end of the file".
type LockInfo struct {
	Type     LockType
	Start    uint64
	Length   uint64
	ProcID   uint32
	ClientID string
}

// Tunlinkat's flag.
const AtRemoveDir = 0x200
