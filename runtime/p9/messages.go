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
