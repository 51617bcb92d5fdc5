package p9

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/runxen/runxen/runtime/internal/bufpool"
)

// The wire format: every message is size[4] type[1] tag[2] body, integers
// little-endian, strings length[2] bytes (no NUL), QIDs type[1] version[4]
// path[8]. Decoding never trusts a length or count: each is checked against
// the bytes left in the message, which the caller already bounded by msize,
// before anything is allocated or sliced. A message must be consumed
// exactly: missing or trailing bytes are an error.

// ErrMalformed is wrapped by every decoding error.
var ErrMalformed = errors.New("p9: malformed message")

// Message is one 9P2000.L message body; the types below (Tversion,
// Rversion, ...) implement it.
type Message interface {
	Type() MsgType
	encode(e *encoder)
	decode(d *decoder)
}

// encoder appends a message body. A string too long for its length field
// makes the whole encoding fail.
type encoder struct {
	b   []byte
	err error
}

func (e *encoder) u8(v uint8)   { e.b = append(e.b, v) }
func (e *encoder) u16(v uint16) { e.b = binary.LittleEndian.AppendUint16(e.b, v) }
func (e *encoder) u32(v uint32) { e.b = binary.LittleEndian.AppendUint32(e.b, v) }
func (e *encoder) u64(v uint64) { e.b = binary.LittleEndian.AppendUint64(e.b, v) }

func (e *encoder) str(s string) {
	if len(s) > 0xffff {
		if e.err == nil {
			e.err = fmt.Errorf("p9: string of %d bytes does not fit a message", len(s))
		}
		s = ""
	}
	e.u16(uint16(len(s)))
	e.b = append(e.b, s...)
}

func (e *encoder) qid(q QID) {
	e.u8(uint8(q.Type))
	e.u32(q.Version)
	e.u64(q.Path)
}

// decoder consumes a message body. The first shortfall sets err; every
// later read returns zero values, so decode methods need no checks of their
// own.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...)
	}
	d.b = nil
}

func (d *decoder) take(n int, what string) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || n > len(d.b) {
		d.fail("%s needs %d bytes, %d left", what, n, len(d.b))
		return nil
	}
	p := d.b[:n:n]
	d.b = d.b[n:]
	return p
}

func (d *decoder) u8() uint8 {
	if p := d.take(1, "u8"); p != nil {
		return p[0]
	}
	return 0
}

func (d *decoder) u16() uint16 {
	if p := d.take(2, "u16"); p != nil {
		return binary.LittleEndian.Uint16(p)
	}
	return 0
}

func (d *decoder) u32() uint32 {
	if p := d.take(4, "u32"); p != nil {
		return binary.LittleEndian.Uint32(p)
	}
	return 0
}

func (d *decoder) u64() uint64 {
	if p := d.take(8, "u64"); p != nil {
		return binary.LittleEndian.Uint64(p)
	}
	return 0
}

// str reads a string; its length is checked against what is left before
// the string is allocated.
func (d *decoder) str() string {
	n := d.u16()
	if p := d.take(int(n), "string"); p != nil {
		return string(p)
	}
	return ""
}

// data reads count[4] data[count], aliasing the message buffer.
func (d *decoder) data() []byte {
	n := d.u32()
	if d.err != nil {
		return nil
	}
	if uint64(n) > uint64(len(d.b)) {
		d.fail("count %d, %d bytes left", n, len(d.b))
		return nil
	}
	return d.take(int(n), "data")
}

func (d *decoder) qid() QID {
	p := d.take(qidSize, "qid")
	if p == nil {
		return QID{}
	}
	return QID{
		Type:    QIDType(p[0]),
		Version: binary.LittleEndian.Uint32(p[1:]),
		Path:    binary.LittleEndian.Uint64(p[5:]),
	}
}

// AppendMessage appends m, framed as a whole message with tag, to b.
func AppendMessage(b []byte, tag uint16, m Message) ([]byte, error) {
	start := len(b)
	e := encoder{b: append(b, 0, 0, 0, 0, uint8(m.Type()), uint8(tag), uint8(tag>>8))}
	m.encode(&e)
	if e.err != nil {
		return b, e.err
	}
	size := len(e.b) - start
	if uint64(size) > 0xffffffff {
		return b, fmt.Errorf("p9: %v of %d bytes", m.Type(), size)
	}
	binary.LittleEndian.PutUint32(e.b[start:], uint32(size))
	return e.b, nil
}

// sizeHint is about how many bytes m encodes to, so its buffer comes from
// the pool at the right size: exact for the messages that carry data.
func sizeHint(m Message) int {
	switch m := m.(type) {
	case *Twrite:
		return headerSize + 16 + len(m.Data)
	case *Rread:
		return rreadHeaderSize + len(m.Data)
	case *Rreaddir:
		n := rreadHeaderSize
		for i := range m.Entries {
			n += m.Entries[i].size()
		}
		return n
	}
	return 512
}

// DecodeMessage decodes the body of a message of type typ (the bytes after
// the 7-byte header). Variable-length parts (Twrite's and Rread's data,
// Rreaddir's entries) alias body; strings are copies.
func DecodeMessage(typ MsgType, body []byte) (Message, error) {
	m := newMessage(typ)
	if m == nil {
		return nil, fmt.Errorf("%w: unknown type %d", ErrMalformed, uint8(typ))
	}
	d := decoder{b: body}
	m.decode(&d)
	if d.err != nil {
		return nil, fmt.Errorf("%v: %w", typ, d.err)
	}
	if len(d.b) != 0 {
		return nil, fmt.Errorf("%w: %v: %d trailing bytes", ErrMalformed, typ, len(d.b))
	}
	return m, nil
}

// Header is the fixed start of every message.
type Header struct {
	Size uint32 // the whole message, header included
	Type MsgType
	Tag  uint16
}

// ParseHeader reads a message header from its first 7 bytes.
func ParseHeader(b []byte) (Header, error) {
	if len(b) < headerSize {
		return Header{}, fmt.Errorf("%w: header of %d bytes", ErrMalformed, len(b))
	}
	h := Header{
		Size: binary.LittleEndian.Uint32(b),
		Type: MsgType(b[4]),
		Tag:  binary.LittleEndian.Uint16(b[5:]),
	}
	if h.Size < headerSize {
		return h, fmt.Errorf("%w: size %d is smaller than a header", ErrMalformed, h.Size)
	}
	return h, nil
}

// readMessage reads one whole message of at most max bytes from r into a
// buffer from the pool (the caller puts it back). A size beyond max is an
// error before anything is allocated.
func readMessage(r io.Reader, max uint32) (Header, []byte, error) {
	var hb [headerSize]byte
	if _, err := io.ReadFull(r, hb[:]); err != nil {
		return Header{}, nil, err
	}
	h, err := ParseHeader(hb[:])
	if err != nil {
		return h, nil, err
	}
	if h.Size > max {
		return h, nil, fmt.Errorf("%w: %v of %d bytes, msize %d", ErrMalformed, h.Type, h.Size, max)
	}
	buf := bufpool.Get(int(h.Size))
	copy(buf, hb[:])
	if _, err := io.ReadFull(r, buf[headerSize:]); err != nil {
		bufpool.Put(buf)
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return h, nil, err
	}
	return h, buf, nil
}
