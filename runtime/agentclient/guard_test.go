package agentclient

import (
	"bytes"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
)

// frame is a whole ttrpc frame with a payload of n bytes.
func frame(n int, stream uint32, typ byte) []byte {
	return append(header(uint32(n), stream, typ, 0), bytes.Repeat([]byte{0xab}, n)...)
}

// fakeConn reads from r and collects writes.
type fakeConn struct {
	net.Conn
	r      io.Reader
	w      bytes.Buffer
	closed bool
}

func (f *fakeConn) Read(p []byte) (int, error)  { return f.r.Read(p) }
func (f *fakeConn) Write(p []byte) (int, error) { return f.w.Write(p) }
func (f *fakeConn) Close() error                { f.closed = true; return nil }

// readAll reads through g in pieces of size step.
func readAll(g *guardConn, step int) ([]byte, error) {
	var out []byte
	buf := make([]byte, step)
	for {
		n, err := g.Read(buf)
		out = append(out, buf[:n]...)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
	}
}

func TestGuardPassesValidFrames(t *testing.T) {
	var in []byte
	in = append(in, frame(5, 1, frameResponse)...)
	in = append(in, frame(0, 3, frameData)...)
	in = append(in, frame(70000, 3, frameResponse)...)
	for _, step := range []int{1, 3, 10, 11, 4096, 1 << 20} {
		var failed error
		g := newGuardConn(&fakeConn{r: bytes.NewReader(in)}, func(err error) { failed = err })
		// The client opened streams 1 and 3, in writes split anyhow.
		req := append(frame(7, 1, frameRequest), frame(2, 3, frameRequest)...)
		for i := 0; i < len(req); i += 4 {
			g.Write(req[i:min(i+4, len(req))])
		}
		out, err := readAll(g, step)
		if err != nil || failed != nil || !bytes.Equal(out, in) {
			t.Fatalf("step %d: read %d bytes of %d, err %v, fail %v", step, len(out), len(in), err, failed)
		}
	}
}

func TestGuardStopsAtFirstBadFrame(t *testing.T) {
	in := append(frame(3, 1, frameResponse), header(1<<30, 1, frameResponse, 0)...)
	in = append(in, make([]byte, 100)...)
	var failed error
	fc := &fakeConn{r: bytes.NewReader(in)}
	g := newGuardConn(fc, func(err error) { failed = err })
	g.Write(frame(1, 1, frameRequest))
	out, err := readAll(g, 8)
	if !errors.Is(err, ErrProtocol) || !errors.Is(failed, ErrProtocol) || !strings.Contains(err.Error(), "1073741824 bytes") {
		t.Fatalf("err %v, fail %v", err, failed)
	}
	// ttrpc never got the whole bad header.
	if len(out) >= len(frame(3, 1, frameResponse))+frameHeaderLen {
		t.Fatalf("passed %d bytes, the bad header included", len(out))
	}
	if _, err := g.Read(make([]byte, 10)); !errors.Is(err, ErrProtocol) {
		t.Fatalf("Read after the violation: %v", err)
	}
}

func FuzzGuard(f *testing.F) {
	f.Add(frame(5, 1, frameResponse), uint8(7))
	f.Add(append(frame(0, 1, frameData), header(0xffffffff, 1, 2, 0)...), uint8(1))
	f.Add([]byte("garbage that is not ttrpc at all"), uint8(3))
	f.Fuzz(func(t *testing.T, in []byte, step uint8) {
		g := newGuardConn(&fakeConn{r: bytes.NewReader(in)}, func(error) {})
		g.Write(frame(0, 1, frameRequest))
		g.Write(frame(0, 3, frameRequest))
		out, err := readAll(g, int(step)+1)
		if err != nil && !errors.Is(err, ErrProtocol) {
			t.Fatalf("unexpected error %v", err)
		}
		// Whatever passed must be a prefix of the input made of headers
		// that are valid, which a second parser confirms.
		if !bytes.HasPrefix(in, out) {
			t.Fatal("guard altered the bytes")
		}
		var p frameParser
		if perr := p.feed(out, func(length, stream uint32, typ, _ byte) error {
			if length > maxFrameLen || (typ != frameResponse && typ != frameData) || (stream != 1 && stream != 3) {
				t.Fatalf("guard passed a bad header: len %d stream %d type %d", length, stream, typ)
			}
			return nil
		}); perr != nil {
			t.Fatal(perr)
		}
	})
}
