package stdio

import (
	"context"
	"errors"
	"io"
	"os"
	"testing"
	"time"

	"github.com/containerd/errdefs"
)

func TestInputWriteAndClose(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	in := NewInput(w, w.Close)
	n, err := in.Write(ctxT(t), []byte("hi"))
	if n != 2 || err != nil {
		t.Fatalf("Write = %d, %v", n, err)
	}
	if err := in.Close(); err != nil {
		t.Fatal(err)
	}
	if err := in.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
	b, err := io.ReadAll(r)
	if string(b) != "hi" || err != nil {
		t.Fatalf("process read %q, %v", b, err)
	}
	if _, err := in.Write(ctxT(t), []byte("x")); !errors.Is(err, ErrClosed) || !errdefs.IsFailedPrecondition(err) {
		t.Fatalf("write after close: %v", err)
	}
}

func TestInputBlockedWriteHonoursContext(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	in := NewInput(w, w.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	// Nobody reads: the pipe (64 KiB) fills and the write blocks.
	n, err := in.Write(ctx, make([]byte, 1<<20))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
	if n == 0 || n >= 1<<20 {
		t.Fatalf("wrote %d, want a partial write", n)
	}
	// The input still works afterwards (the deadline was reset).
	go io.Copy(io.Discard, r)
	if n, err := in.Write(ctxT(t), []byte("after")); n != 5 || err != nil {
		t.Fatalf("write after timeout = %d, %v", n, err)
	}
}

func TestInputCloseUnblocksWrite(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	in := NewInput(w, w.Close)
	done := make(chan error, 1)
	go func() {
		_, err := in.Write(ctxT(t), make([]byte, 1<<20))
		done <- err
	}()
	time.Sleep(50 * time.Millisecond)
	in.Close()
	select {
	case err := <-done:
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("err = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not unblock Write")
	}
}

func TestInputReaderGone(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	r.Close() // the process exited
	in := NewInput(w, w.Close)
	defer in.Close()
	if _, err := in.Write(ctxT(t), []byte("x")); err == nil {
		t.Fatal("write to a pipe without readers succeeded")
	}
}
