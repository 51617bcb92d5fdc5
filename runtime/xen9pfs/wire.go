package xen9pfs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"

	"github.com/runxen/runxen/runtime/gnttab"
	"github.com/runxen/runxen/runtime/ring"
)

// The transport's fixed numbers, from xen/include/public/io/9pfs.h and
// docs/misc/9pfs.pandoc (version 1).
const (
	// DeviceType is the xenbus device type, the directory name under
	// device/ and backend/.
	DeviceType = "9pfs"
	// protocolVersion is the only transport version there is.
	protocolVersion = "1"

	// MaxRingPageOrderLimit is the largest ring order the protocol allows
	// (XEN_9PFS_RING_ORDER): 512 data page references after the interface
	// page's 132-byte header.
	MaxRingPageOrderLimit = 9
	// MaxRingsLimit bounds the rings per device this package accepts.
	MaxRingsLimit = 16

	// Layout of struct xen_9pfs_data_intf (DEFINE_XEN_FLEX_RING_AND_INTF in
	// xen/include/public/io/ring.h), the one page per ring the frontend
	// grants: in_cons, in_prod, 56 bytes of padding, out_cons, out_prod,
	// 56 bytes of padding, ring_order, ref[1 << ring_order]. (The padding
	// after out_prod takes ring_order to 128, not 72: found in the lab,
	// where Linux's frontend was read as offering ring order 0.)
	offInCons    = 0
	offInProd    = 4
	offOutCons   = 64
	offOutProd   = 68
	offRingOrder = 128
	offRefs      = 132

	// hdrSize is the 9P message header: size[4] type[1] tag[2], little
	// endian. size counts the whole message, header included.
	hdrSize = 7
)

// XenbusState is a device's state in xenstore (xen/include/public/io/xenbus.h).
type XenbusState int

const (
	StateUnknown       XenbusState = 0
	StateInitialising  XenbusState = 1
	StateInitWait      XenbusState = 2
	StateInitialised   XenbusState = 3
	StateConnected     XenbusState = 4
	StateClosing       XenbusState = 5
	StateClosed        XenbusState = 6
	StateReconfiguring XenbusState = 7
	StateReconfigured  XenbusState = 8
)

func (s XenbusState) String() string {
	names := [...]string{"Unknown", "Initialising", "InitWait", "Initialised", "Connected",
		"Closing", "Closed", "Reconfiguring", "Reconfigured"}
	if s >= 0 && int(s) < len(names) {
		return names[s]
	}
	return "XenbusState(" + strconv.Itoa(int(s)) + ")"
}

// ringBytes is XEN_FLEX_RING_SIZE: each direction of a ring of the given
// page order gets half of the 2^order granted pages.
func ringBytes(order int) int { return (gnttab.PageSize << order) / 2 }

// ErrProtocol is wrapped by every error about a frontend that broke the
// transport protocol: malformed or out-of-range xenstore values, a bad
// interface page, a 9P size field out of bounds. ring.ErrCorrupt (also
// wrapped) reports impossible ring indices.
var ErrProtocol = errors.New("xen9pfs: frontend protocol violation")

// protocolError is one violation; it satisfies errors.Is(err, ErrProtocol)
// and reads well inside the errors that wrap it.
type protocolError struct{ msg string }

func (e *protocolError) Error() string        { return "frontend protocol violation: " + e.msg }
func (e *protocolError) Is(target error) bool { return target == ErrProtocol }

func protoErr(format string, args ...any) error {
	return &protocolError{msg: fmt.Sprintf(format, args...)}
}

// parseDecimal parses a xenstore value written by the frontend: plain
// decimal digits as "%u" prints them (no sign, space, leading zero or
// trailing NUL), at most max.
func parseDecimal(what string, b []byte, max uint64) (uint64, error) {
	bad := len(b) == 0 || len(b) > 20 || (len(b) > 1 && b[0] == '0')
	for _, c := range b {
		if c < '0' || c > '9' {
			bad = true
			break
		}
	}
	if !bad {
		v, err := strconv.ParseUint(string(b), 10, 64)
		if err == nil && v <= max {
			return v, nil
		}
	}
	return 0, protoErr("%s is %s, want a decimal number in [0, %d]", what, quote(b), max)
}

// quote renders an untrusted value for an error message: bounded, and
// printable ASCII only.
func quote(b []byte) string {
	const limit = 32
	out := make([]byte, 0, limit+5)
	out = append(out, '"')
	for i, c := range b {
		if i == limit {
			out = append(out, "..."...)
			break
		}
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			c = '?'
		}
		out = append(out, c)
	}
	return string(append(out, '"'))
}

// parseState parses a device state node.
func parseState(b []byte) (XenbusState, error) {
	v, err := parseDecimal("state", b, uint64(StateReconfigured))
	return XenbusState(v), err
}

// ringParams is what the frontend publishes for one ring in xenstore.
type ringParams struct {
	Ref  uint32 // grant reference of the interface page
	Port uint32 // the frontend's event channel port
}

// frontendParams is the frontend's side of the connection, from xenstore.
type frontendParams struct {
	Rings []ringParams
}

// parseFrontend reads the frontend's transport parameters through get
// (which returns a node's value and whether it exists) and checks them:
// version "1", 1 <= num-rings <= maxRings, and for each ring a non-zero
// ring-ref<N> and event-channel-<N>. Nothing is trusted: every value is
// parsed strictly and bounded before use.
func parseFrontend(get func(key string) ([]byte, bool), maxRings int) (frontendParams, error) {
	req := func(key string) ([]byte, error) {
		v, ok := get(key)
		if !ok {
			return nil, protoErr("frontend node %q missing", key)
		}
		return v, nil
	}
	v, err := req("version")
	if err != nil {
		return frontendParams{}, err
	}
	if string(v) != protocolVersion {
		return frontendParams{}, protoErr("frontend chose transport version %s, backend offers %q", quote(v), protocolVersion)
	}
	v, err = req("num-rings")
	if err != nil {
		return frontendParams{}, err
	}
	n, err := parseDecimal("num-rings", v, uint64(maxRings))
	if err != nil {
		return frontendParams{}, err
	}
	if n == 0 {
		return frontendParams{}, protoErr("num-rings is 0")
	}
	p := frontendParams{Rings: make([]ringParams, n)}
	for i := range p.Rings {
		key := "ring-ref" + strconv.Itoa(i)
		if v, err = req(key); err != nil {
			return frontendParams{}, err
		}
		ref, err := parseDecimal(key, v, 1<<32-1)
		if err != nil {
			return frontendParams{}, err
		}
		key = "event-channel-" + strconv.Itoa(i)
		if v, err = req(key); err != nil {
			return frontendParams{}, err
		}
		port, err := parseDecimal(key, v, 1<<32-1)
		if err != nil {
			return frontendParams{}, err
		}
		if ref == 0 || port == 0 {
			return frontendParams{}, protoErr("ring %d: ring-ref %d, event-channel %d: zero is not valid", i, ref, port)
		}
		p.Rings[i] = ringParams{Ref: uint32(ref), Port: uint32(port)}
	}
	return p, nil
}

// intfWord loads the 32-bit word at off of the interface page once.
func intfWord(page []byte, off int) (uint32, error) {
	p, err := ring.Index(page, off)
	if err != nil {
		return 0, err
	}
	return atomic.LoadUint32(p), nil
}

// parseIntf reads a ring's order and data page references from its
// interface page, which the frontend may change at any moment: each word
// is loaded once into local memory, then checked (1 <= order <= maxOrder,
// no zero reference).
func parseIntf(page []byte, maxOrder int) (order int, refs []uint32, err error) {
	if len(page) < gnttab.PageSize {
		return 0, nil, fmt.Errorf("xen9pfs: interface page is %d bytes", len(page))
	}
	o, err := intfWord(page, offRingOrder)
	if err != nil {
		return 0, nil, err
	}
	if o < 1 || o > uint32(maxOrder) {
		return 0, nil, protoErr("ring_order %d outside [1, %d]", o, maxOrder)
	}
	order = int(o)
	refs = make([]uint32, 1<<order)
	for i := range refs {
		if refs[i], err = intfWord(page, offRefs+4*i); err != nil {
			return 0, nil, err
		}
		if refs[i] == 0 {
			return 0, nil, protoErr("data page %d of %d has grant reference 0", i, len(refs))
		}
	}
	return order, refs, nil
}

// msgSize returns the size field of a 9P header.
func msgSize(hdr []byte) uint32 { return binary.LittleEndian.Uint32(hdr[0:4]) }

// msgTag returns the tag of a 9P message (at least hdrSize bytes).
func msgTag(msg []byte) uint16 { return binary.LittleEndian.Uint16(msg[5:7]) }
