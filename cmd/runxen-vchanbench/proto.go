//go:build linux

package main

import (
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"time"
)

// The bench protocol, spoken on every connection whatever carries it (a Go
// vchan, or vchan-socket-proxy and a unix socket): the client sends one
// command line, then the data the command implies; the service answers with
// one line, "ok ..." or "err ...", where the command has an answer. A
// connection carries any number of commands, one after another, until the
// client closes it. Nothing in it relies on end-of-stream, because
// vchan-socket-proxy does not carry it in every direction (see the eof
// command).
//
//	sink N H        client sends N bytes; reply "ok N SHA256" (H=1) or "ok N -"
//	source N SEED H service sends N bytes (the SEED stream if H=1, else a fixed
//	                pattern), then "ok SHA256" or "ok -"
//	sinkframes      client sends frames (below) up to an empty one; reply
//	                "ok TOTAL"
//	sourcefor MS N  service sends frames for MS milliseconds or until N
//	                bytes, then an empty one and "ok TOTAL"
//	echo N          service sends back the N bytes it receives, as they come
//	ping SIZE COUNT COUNT times: client sends SIZE bytes, service sends them back
//	eof N SEED      service sends N bytes of the SEED stream and closes its end
//	eofsink ID      service reads until end-of-stream and files count and
//	                SHA-256 under ID; no reply (the stream is over)
//	result ID       reply "ok N SHA256" for what eofsink ID read (waits for it)
//	ttrpc           reply "ok", then the connection belongs to a ttrpc server
//	unix N          service measures a unix-socket transfer of N bytes inside
//	                its own domain, and a 64-byte round trip; reply
//	                "ok SECONDS RTT-MICROSECONDS"
//	info            reply "ok key=value ..."
//	shutdown        reply "ok"; once this connection closes the guest
//	                withdraws its endpoints and powers off

// Framed transfers, for throughput over a fixed time rather than a fixed
// size (the lab's emulated CPUs make a fixed size take anything from a
// second to an hour): frames of a 4-byte little-endian length and that many
// bytes; a zero length ends the transfer.
const frameSize = 16 << 10

// writeFramesFor sends frames for d (or until limit bytes, if limit >= 0),
// then the end frame, and returns the payload bytes sent.
func writeFramesFor(w io.Writer, d time.Duration, limit int64, buf []byte) (int64, error) {
	frame := buf[:4+frameSize]
	copy(frame[4:], patternBuf)
	binary.LittleEndian.PutUint32(frame, frameSize)
	var total int64
	for start := time.Now(); time.Since(start) < d && (limit < 0 || total < limit); {
		if _, err := w.Write(frame); err != nil {
			return total, err
		}
		total += frameSize
	}
	binary.LittleEndian.PutUint32(frame, 0)
	_, err := w.Write(frame[:4])
	return total, err
}

// readFrames reads frames up to the end frame and returns the payload
// bytes read.
func readFrames(r io.Reader, buf []byte) (int64, error) {
	var total int64
	var hdr [4]byte
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return total, err
		}
		n := int64(binary.LittleEndian.Uint32(hdr[:]))
		if n == 0 {
			return total, nil
		}
		if n > 1<<20 {
			return total, fmt.Errorf("frame of %d bytes", n)
		}
		if err := readN(r, n, nil, buf); err != nil {
			return total, err
		}
		total += n
	}
}

// maxLine bounds a command or reply line.
const maxLine = 256

// readLine reads one '\n'-terminated line of at most maxLine bytes.
func readLine(r *bufio.Reader) (string, error) {
	var b []byte
	for {
		c, err := r.ReadByte()
		if err != nil {
			if err == io.EOF && len(b) > 0 {
				err = io.ErrUnexpectedEOF
			}
			return "", err
		}
		if c == '\n' {
			return string(b), nil
		}
		if len(b) >= maxLine {
			return "", fmt.Errorf("line longer than %d bytes", maxLine)
		}
		b = append(b, c)
	}
}

// okFields reads a reply line and returns the fields after "ok", or the
// error the peer reported.
func okFields(r *bufio.Reader) ([]string, error) {
	line, err := readLine(r)
	if err != nil {
		return nil, fmt.Errorf("read reply: %w", err)
	}
	f := strings.Fields(line)
	switch {
	case len(f) > 0 && f[0] == "ok":
		return f[1:], nil
	case len(f) > 0 && f[0] == "err":
		return nil, fmt.Errorf("peer: %s", strings.TrimSpace(strings.TrimPrefix(line, "err")))
	default:
		return nil, fmt.Errorf("bad reply %q", line)
	}
}

func parseSize(s string) (int64, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("bad size %q", s)
	}
	return n, nil
}

// stream is the deterministic byte stream both ends can produce from a
// seed, to check a transfer end to end.
func stream(seed uint64) io.Reader {
	var key [32]byte
	for i := range 8 {
		key[i] = byte(seed >> (8 * i))
	}
	return rand.NewChaCha8(key)
}

// patternBuf is what unhashed transfers send: the cost of producing data
// stays out of throughput figures.
var patternBuf = func() []byte {
	b := make([]byte, 64<<10)
	stream(0).Read(b)
	return b
}()

// writeN writes n bytes to w: the seed stream when h is not nil (also
// hashed into h), else patternBuf over and over.
func writeN(w io.Writer, n int64, seed uint64, h hash.Hash, buf []byte) error {
	var src io.Reader
	if h != nil {
		src = stream(seed)
	}
	for n > 0 {
		chunk := buf
		if int64(len(chunk)) > n {
			chunk = chunk[:n]
		}
		if src != nil {
			src.Read(chunk)
			h.Write(chunk)
		} else {
			chunk = patternBuf[:len(chunk)]
		}
		if _, err := w.Write(chunk); err != nil {
			return err
		}
		n -= int64(len(chunk))
	}
	return nil
}

// readN reads exactly n bytes from r, hashing them into h if not nil.
func readN(r io.Reader, n int64, h hash.Hash, buf []byte) error {
	for n > 0 {
		chunk := buf
		if int64(len(chunk)) > n {
			chunk = chunk[:n]
		}
		m, err := r.Read(chunk)
		if m > 0 {
			if h != nil {
				h.Write(chunk[:m])
			}
			n -= int64(m)
		}
		if err != nil {
			if n > 0 && err == io.EOF {
				return fmt.Errorf("%w: %d bytes missing", io.ErrUnexpectedEOF, n)
			}
			if n > 0 {
				return err
			}
		}
	}
	return nil
}

// streamSum returns the SHA-256 of the first n bytes of the seed stream.
func streamSum(seed uint64, n int64) string {
	h := sha256.New()
	io.Copy(h, io.LimitReader(stream(seed), n))
	return hex.EncodeToString(h.Sum(nil))
}

func sumHex(h hash.Hash) string {
	if h == nil {
		return "-"
	}
	return hex.EncodeToString(h.Sum(nil))
}

// prefixedConn is a net.Conn whose first bytes come from a bufio.Reader
// that already read past a command line.
type prefixedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *prefixedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

var errUsage = errors.New("usage")
