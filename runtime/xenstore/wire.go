package xenstore

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"strconv"
)

// Limits from xen/include/public/io/xs_wire.h.
const (
	// PayloadMax is XENSTORE_PAYLOAD_MAX: the largest payload a message may
	// carry in either direction. xenstored kills a connection that sends a
	// longer one, so the client refuses to send it.
	PayloadMax = 4096
	// AbsPathMax is XENSTORE_ABS_PATH_MAX, the longest absolute path.
	AbsPathMax = 3072
	// RelPathMax is XENSTORE_REL_PATH_MAX, the longest relative path (and,
	// as xenstored enforces it, the longest special "@..." watch path).
	RelPathMax = 2048
)

// headerSize is sizeof(struct xsd_sockmsg): four little-endian uint32s.
const headerSize = 16

// msgType is enum xsd_sockmsg_type.
type msgType uint32

const (
	typeControl            msgType = 0 // XS_CONTROL, formerly XS_DEBUG
	typeDirectory          msgType = 1
	typeRead               msgType = 2
	typeGetPerms           msgType = 3
	typeWatch              msgType = 4
	typeUnwatch            msgType = 5
	typeTransactionStart   msgType = 6
	typeTransactionEnd     msgType = 7
	typeIntroduce          msgType = 8
	typeRelease            msgType = 9
	typeGetDomainPath      msgType = 10
	typeWrite              msgType = 11
	typeMkdir              msgType = 12
	typeRm                 msgType = 13
	typeSetPerms           msgType = 14
	typeWatchEvent         msgType = 15
	typeError              msgType = 16
	typeIsDomainIntroduced msgType = 17
	typeResume             msgType = 18
	typeSetTarget          msgType = 19
	// 20 was XS_RESTRICT, removed from Xen.
	typeResetWatches  msgType = 21
	typeDirectoryPart msgType = 22

	// typeInvalid is XS_INVALID, "guaranteed to remain an invalid type".
	// Anything at or above it cannot be a xenstore message, so a header
	// carrying one means the byte stream is garbage or out of step.
	typeInvalid msgType = 0xffff
)

var typeNames = [...]string{
	typeControl:            "CONTROL",
	typeDirectory:          "DIRECTORY",
	typeRead:               "READ",
	typeGetPerms:           "GET_PERMS",
	typeWatch:              "WATCH",
	typeUnwatch:            "UNWATCH",
	typeTransactionStart:   "TRANSACTION_START",
	typeTransactionEnd:     "TRANSACTION_END",
	typeIntroduce:          "INTRODUCE",
	typeRelease:            "RELEASE",
	typeGetDomainPath:      "GET_DOMAIN_PATH",
	typeWrite:              "WRITE",
	typeMkdir:              "MKDIR",
	typeRm:                 "RM",
	typeSetPerms:           "SET_PERMS",
	typeWatchEvent:         "WATCH_EVENT",
	typeError:              "ERROR",
	typeIsDomainIntroduced: "IS_DOMAIN_INTRODUCED",
	typeResume:             "RESUME",
	typeSetTarget:          "SET_TARGET",
	typeResetWatches:       "RESET_WATCHES",
	typeDirectoryPart:      "DIRECTORY_PART",
}

func (t msgType) String() string {
	if int(t) < len(typeNames) && typeNames[t] != "" {
		return "XS_" + typeNames[t]
	}
	return "XS_TYPE(" + strconv.FormatUint(uint64(t), 10) + ")"
}

// header is struct xsd_sockmsg.
type header struct {
	Type  msgType
	ReqID uint32
	TxID  uint32
	Len   uint32
}

// message is one framed xenstore message: a header and exactly hdr.Len
// payload bytes.
type message struct {
	header
	Payload []byte
}

// decodeHeader parses the 16 header bytes without judging them.
func decodeHeader(b *[headerSize]byte) header {
	return header{
		Type:  msgType(binary.LittleEndian.Uint32(b[0:4])),
		ReqID: binary.LittleEndian.Uint32(b[4:8]),
		TxID:  binary.LittleEndian.Uint32(b[8:12]),
		Len:   binary.LittleEndian.Uint32(b[12:16]),
	}
}

// checkHeader rejects headers no correct peer sends. It runs before any
// payload is allocated, so a hostile length never turns into an allocation.
func checkHeader(h header) error {
	if h.Len > PayloadMax {
		return fmt.Errorf("%w: %v message claims %d payload bytes, more than XENSTORE_PAYLOAD_MAX (%d)",
			ErrProtocol, h.Type, h.Len, PayloadMax)
	}
	if h.Type >= typeInvalid {
		return fmt.Errorf("%w: invalid message type %d", ErrProtocol, uint32(h.Type))
	}
	return nil
}

// readMessage reads exactly one message from r. It returns io.EOF only when
// the stream ends cleanly between messages and io.ErrUnexpectedEOF when it
// ends inside one. Any error but a clean io.EOF leaves r at an unknown
// position: the caller must drop the connection.
func readMessage(r io.Reader) (message, error) {
	var hb [headerSize]byte
	if _, err := io.ReadFull(r, hb[:]); err != nil {
		return message{}, err
	}
	h := decodeHeader(&hb)
	if err := checkHeader(h); err != nil {
		return message{}, err
	}
	m := message{header: h}
	if h.Len > 0 {
		m.Payload = make([]byte, h.Len)
		if _, err := io.ReadFull(r, m.Payload); err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return message{}, err
		}
	}
	return m, nil
}

// appendMessage appends the wire form of a message to b. It does not check
// the payload length; callers check against PayloadMax first.
func appendMessage(b []byte, t msgType, reqID, txID uint32, payload []byte) []byte {
	b = binary.LittleEndian.AppendUint32(b, uint32(t))
	b = binary.LittleEndian.AppendUint32(b, reqID)
	b = binary.LittleEndian.AppendUint32(b, txID)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(payload)))
	return append(b, payload...)
}

// nulStrings builds a payload of strings each followed by a NUL, the
// "<foo>|<bar>|" notation of docs/misc/xenstore.txt.
func nulStrings(parts ...string) []byte {
	n := 0
	for _, p := range parts {
		n += len(p) + 1
	}
	b := make([]byte, 0, n)
	for _, p := range parts {
		b = append(b, p...)
		b = append(b, 0)
	}
	return b
}

// parseStrings splits a "<foo>|*" payload: zero or more strings, each
// followed by a NUL. An empty payload is an empty list; a non-empty payload
// that does not end in NUL is malformed.
func parseStrings(p []byte) ([]string, error) {
	if len(p) == 0 {
		return nil, nil
	}
	if p[len(p)-1] != 0 {
		return nil, fmt.Errorf("%w: string list not NUL-terminated", ErrProtocol)
	}
	parts := bytes.Split(p[:len(p)-1], []byte{0})
	out := make([]string, len(parts))
	for i, s := range parts {
		out[i] = string(s)
	}
	return out, nil
}

// parseString parses a reply holding one string. xenstored sends it with a
// trailing NUL; one trailing NUL is accepted and removed, an embedded NUL is
// malformed.
func parseString(p []byte) (string, error) {
	if n := len(p); n > 0 && p[n-1] == 0 {
		p = p[:n-1]
	}
	if bytes.IndexByte(p, 0) >= 0 {
		return "", fmt.Errorf("%w: unexpected NUL inside a single-string reply", ErrProtocol)
	}
	return string(p), nil
}

// parseWatchEvent parses a WATCH_EVENT payload "<epath>|<token>|". Like the
// Linux kernel, it needs at least two NUL-terminated strings and ignores any
// further ones (reserved for extension).
func parseWatchEvent(p []byte) (path, token string, err error) {
	i := bytes.IndexByte(p, 0)
	if i < 0 {
		return "", "", fmt.Errorf("%w: watch event without NUL after path", ErrProtocol)
	}
	j := bytes.IndexByte(p[i+1:], 0)
	if j < 0 {
		return "", "", fmt.Errorf("%w: watch event without NUL after token", ErrProtocol)
	}
	if i == 0 {
		return "", "", fmt.Errorf("%w: watch event with empty path", ErrProtocol)
	}
	return string(p[:i]), string(p[i+1 : i+1+j]), nil
}

// parseUint32 parses a decimal reply such as a transaction id.
func parseUint32(p []byte) (uint32, error) {
	s, err := parseString(p)
	if err != nil {
		return 0, err
	}
	if s == "" || len(s) > 10 {
		return 0, fmt.Errorf("%w: %q is not a decimal uint32", ErrProtocol, s)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("%w: %q is not a decimal uint32", ErrProtocol, s)
		}
	}
	v, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("%w: %q is not a decimal uint32", ErrProtocol, s)
	}
	return uint32(v), nil
}

// parsePermissions parses a GET_PERMS reply: one or more permission
// strings, each NUL-terminated.
func parsePermissions(p []byte) ([]Permission, error) {
	strs, err := parseStrings(p)
	if err != nil {
		return nil, err
	}
	if len(strs) == 0 {
		return nil, fmt.Errorf("%w: empty permission list", ErrProtocol)
	}
	perms := make([]Permission, len(strs))
	for i, s := range strs {
		perm, err := ParsePermission(s)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrProtocol, err)
		}
		perms[i] = perm
	}
	return perms, nil
}

// dirPart is one parsed DIRECTORY_PART reply: "<gencnt>|<child>|*" with one
// extra empty string (a second NUL) once the end of the list is reached.
type dirPart struct {
	gen      string
	names    []string
	consumed int // bytes of the child list covered by names, NULs included
	final    bool
}

func parseDirectoryPart(p []byte) (dirPart, error) {
	var d dirPart
	i := bytes.IndexByte(p, 0)
	if i <= 0 {
		return d, fmt.Errorf("%w: DIRECTORY_PART reply without generation count", ErrProtocol)
	}
	d.gen = string(p[:i])
	rest := p[i+1:]
	if len(rest) == 0 || rest[len(rest)-1] != 0 {
		return d, fmt.Errorf("%w: DIRECTORY_PART child list not NUL-terminated", ErrProtocol)
	}
	for len(rest) > 0 {
		j := bytes.IndexByte(rest, 0) // never -1: rest ends in NUL
		if j == 0 {
			if len(rest) != 1 {
				return d, fmt.Errorf("%w: DIRECTORY_PART data after end marker", ErrProtocol)
			}
			d.final = true
			break
		}
		d.names = append(d.names, string(rest[:j]))
		d.consumed += j + 1
		rest = rest[j+1:]
	}
	return d, nil
}
