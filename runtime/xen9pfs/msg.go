package xen9pfs

import (
	"errors"
	"fmt"

	"github.com/runxen/runxen/runtime/internal/bufpool"
	"github.com/runxen/runxen/runtime/ring"
)

// msgReader takes whole 9P messages out of a ring the frontend produces.
//
// It consumes as it goes: header bytes into a private array, then, once
// the header's size is known and checked, the body into a private buffer
// of exactly that size. Every byte is therefore copied out of shared
// memory once and never read there again, and the size that is checked is
// the size that is used (a frontend rewriting the header after we read it
// changes nothing). Consuming partial messages also frees ring space as
// early as possible; the frontend is still expected to publish whole
// messages, as Linux does, but nothing here depends on it.
type msgReader struct {
	rd  *ring.Reader
	max int // largest acceptable message, header included

	hdr  [hdrSize]byte
	nhdr int
	msg  []byte // the message being assembled, len == its size
	nmsg int
}

// next consumes what the ring holds towards the next message. It returns
// the message once complete (the caller owns it and may give it back with
// bufpool.Put), or nil when the ring ran
// dry first; consumed counts the bytes taken from the ring either way. An
// error means the frontend broke the protocol: corrupt indices
// (ring.ErrCorrupt) or a size field below the header size or above max
// (ErrProtocol); the ring must then be abandoned.
func (m *msgReader) next() (msg []byte, consumed int, err error) {
	if m.msg == nil {
		n, err := m.rd.Read(m.hdr[m.nhdr:])
		consumed += n
		if err != nil {
			return nil, consumed, err
		}
		m.nhdr += n
		if m.nhdr < hdrSize {
			return nil, consumed, nil
		}
		size := msgSize(m.hdr[:])
		if size < hdrSize || uint64(size) > uint64(m.max) {
			return nil, consumed, protoErr("9P message size %d outside [%d, %d]", size, hdrSize, m.max)
		}
		m.msg = bufpool.Get(int(size))
		m.nmsg = copy(m.msg, m.hdr[:])
		m.nhdr = 0
	}
	if m.nmsg < len(m.msg) {
		n, err := m.rd.Read(m.msg[m.nmsg:])
		consumed += n
		if err != nil {
			return nil, consumed, err
		}
		m.nmsg += n
		if m.nmsg < len(m.msg) {
			return nil, consumed, nil
		}
	}
	msg, m.msg, m.nmsg = m.msg, nil, 0
	return msg, consumed, nil
}

// errMessageSize is returned by Conn.Write for bytes that do not frame as
// 9P messages the transport can carry.
var errMessageSize = errors.New("xen9pfs: reply does not frame as a 9P message this transport can carry")

// framer cuts the byte stream the file server writes into 9P messages,
// so that each is published to its ring whole.
type framer struct {
	max int    // largest message the rings can carry
	buf []byte // the start of an incomplete message
}

// feed takes p and calls emit for each complete message, in order. Whole
// messages lying in p are passed without copying; a message split across
// calls is assembled in f.buf. It returns how many bytes of p were taken
// by messages emitted (or buffered) before an error.
func (f *framer) feed(p []byte, emit func(msg []byte) error) (int, error) {
	taken := 0
	for taken < len(p) {
		rest := p[taken:]
		if len(f.buf) == 0 && len(rest) >= 4 {
			size, err := f.check(rest)
			if err != nil {
				return taken, err
			}
			if len(rest) >= size {
				if err := emit(rest[:size]); err != nil {
					return taken, err
				}
				taken += size
				continue
			}
		}
		// Assemble a split message: first its size field, then the rest.
		need := 4
		if len(f.buf) >= 4 {
			size, err := f.check(f.buf)
			if err != nil {
				return taken, err
			}
			need = size
		}
		n := min(need-len(f.buf), len(rest))
		f.buf = append(f.buf, rest[:n]...)
		taken += n
		if len(f.buf) >= 4 {
			size, err := f.check(f.buf)
			if err != nil {
				f.buf = f.buf[:0]
				return taken, err
			}
			if len(f.buf) == size {
				err := emit(f.buf)
				f.buf = f.buf[:0]
				if err != nil {
					return taken, err
				}
			}
		}
	}
	return taken, nil
}

// check reads and bounds the size field at the start of b.
func (f *framer) check(b []byte) (int, error) {
	size := msgSize(b)
	if size < hdrSize || uint64(size) > uint64(f.max) {
		return 0, fmt.Errorf("%w: size field %d outside [%d, %d]", errMessageSize, size, hdrSize, f.max)
	}
	return int(size), nil
}
