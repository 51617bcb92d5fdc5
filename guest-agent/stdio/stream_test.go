package stdio

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"os"
	"sync/atomic"
	"testing"
	"time"
)

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// readAll drains s with reads of at most max bytes until eof.
func readAll(t *testing.T, s *Stream, max int) []byte {
	t.Helper()
	var out []byte
	for {
		b, eof, err := s.Read(ctxT(t), max)
		if err != nil {
			t.Fatal(err)
		}
		if max > 0 && len(b) > max {
			t.Fatalf("read %d bytes, asked for at most %d", len(b), max)
		}
		out = append(out, b...)
		if eof {
			return out
		}
	}
}

func TestStreamBackPressureNoLoss(t *testing.T) {
	const limit = 64 << 10
	const total = 1 << 20
	want := make([]byte, total)
	rand.Read(want)

	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	var written atomic.Int64
	go func() {
		// The "process": writes everything, then exits (closes its end).
		for off := 0; off < total; off += 4096 {
			n, err := w.Write(want[off : off+4096])
			written.Add(int64(n))
			if err != nil {
				break
			}
		}
		w.Close()
	}()
	s := NewStream(limit)
	filled := make(chan error, 1)
	go func() { filled <- s.Fill(r); r.Close() }()

	// Nobody reads: the writer must stall once the buffer and the pipe are
	// full, and the buffer must not exceed its limit.
	var last int64 = -1
	for i := 0; i < 100; i++ {
		time.Sleep(20 * time.Millisecond)
		n := written.Load()
		if n == last {
			break
		}
		last = n
	}
	if last >= total {
		t.Fatalf("writer wrote everything (%d bytes) while nobody read: no back-pressure", last)
	}
	if got := s.Buffered(); got > limit || got < limit/2 {
		t.Fatalf("buffered %d, want close to the limit %d", got, limit)
	}

	got := readAll(t, s, 10000)
	if !bytes.Equal(got, want) {
		t.Fatalf("read %d bytes, want %d identical bytes", len(got), len(want))
	}
	if err := <-filled; err != nil {
		t.Fatal(err)
	}
	if !s.Drained() {
		t.Error("Drained false after eof was read")
	}
	// eof is sticky.
	b, eof, err := s.Read(ctxT(t), 0)
	if len(b) != 0 || !eof || err != nil {
		t.Errorf("read after eof = %q, %v, %v", b, eof, err)
	}
}

func TestStreamEOFOnlyWhenDrained(t *testing.T) {
	s := NewStream(0)
	go s.Fill(bytes.NewReader([]byte("hello world")))
	b, eof, err := s.Read(ctxT(t), 5)
	if err != nil || string(b) != "hello" {
		t.Fatalf("first read %q, %v", b, err)
	}
	if eof {
		t.Fatal("eof while 6 bytes remain")
	}
	// Wait for Fill to end, then the remainder comes with eof.
	for !func() bool { s.mu.Lock(); defer s.mu.Unlock(); return s.ended }() {
		time.Sleep(time.Millisecond)
	}
	b, eof, err = s.Read(ctxT(t), 0)
	if err != nil || string(b) != " world" || !eof {
		t.Fatalf("second read %q, eof %v, %v", b, eof, err)
	}
}

func TestStreamLongPoll(t *testing.T) {
	s := NewStream(0)
	got := make(chan string, 1)
	go func() {
		b, _, _ := s.Read(ctxT(t), 0)
		got <- string(b)
	}()
	select {
	case b := <-got:
		t.Fatalf("read returned %q before any data", b)
	case <-time.After(50 * time.Millisecond):
	}
	r, w := io.Pipe()
	go s.Fill(r)
	w.Write([]byte("x"))
	select {
	case b := <-got:
		if b != "x" {
			t.Fatalf("got %q", b)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("long poll not woken by data")
	}
	w.Close()
}

func TestStreamContext(t *testing.T) {
	s := NewStream(0)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, _, err := s.Read(ctx, 0); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
	// A cancelled caller takes nothing, even when data is there.
	go s.Fill(bytes.NewReader([]byte("keep")))
	for s.Buffered() == 0 {
		time.Sleep(time.Millisecond)
	}
	done, cancel2 := context.WithCancel(context.Background())
	cancel2()
	if b, _, err := s.Read(done, 0); err == nil || len(b) != 0 {
		t.Fatalf("cancelled read returned %q, %v", b, err)
	}
	if b := readAll(t, s, 0); string(b) != "keep" {
		t.Fatalf("data lost: %q", b)
	}
}

func TestStreamEndAndDiscard(t *testing.T) {
	s := NewStream(0)
	s.End()
	if b, eof, err := s.Read(ctxT(t), 0); len(b) != 0 || !eof || err != nil {
		t.Fatalf("ended empty stream: %q %v %v", b, eof, err)
	}

	s = NewStream(10)
	r, w := io.Pipe()
	filled := make(chan struct{})
	go func() { s.Fill(r); close(filled) }()
	w.Write([]byte("0123456789"))
	waiting := make(chan struct{})
	go func() {
		close(waiting)
		w.Write([]byte("more")) // blocks: Fill is not reading, the buffer is full
	}()
	<-waiting
	s.Discard()
	r.Close() // the owner closes the source
	<-filled
	if b, eof, _ := s.Read(ctxT(t), 0); len(b) != 0 || !eof {
		t.Fatalf("after discard: %q, eof %v", b, eof)
	}
}

func TestStreamReadCap(t *testing.T) {
	s := NewStream(3 << 20)
	big := make([]byte, 2<<20)
	go s.Fill(bytes.NewReader(big))
	for s.Buffered() < len(big) {
		time.Sleep(time.Millisecond)
	}
	b, _, _ := s.Read(ctxT(t), 0)
	if len(b) != MaxRead {
		t.Fatalf("read %d, want the cap %d", len(b), MaxRead)
	}
	b, _, _ = s.Read(ctxT(t), 5<<20)
	if len(b) != MaxRead {
		t.Fatalf("read %d, want the cap %d", len(b), MaxRead)
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("EIO") }

func TestStreamSourceError(t *testing.T) {
	s := NewStream(0)
	if err := s.Fill(failingReader{}); err == nil {
		t.Fatal("Fill hid the source's error")
	}
	if _, eof, _ := s.Read(ctxT(t), 0); !eof {
		t.Fatal("a failed source must end the stream")
	}
}
