package xenstore

import (
	"context"
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/runxen/runxen/runtime/xenstore/xenstoretest"
)

// The xenbus device buffers header and payload together in 4096 bytes, so
// a device Client refuses what the device would reject with E2BIG.
func TestDevicePayloadLimit(t *testing.T) {
	s := xenstoretest.New()
	defer s.Close()
	c := newClient(s.Conn(), devicePayloadMax)
	defer c.Close()
	ctx := context.Background()

	fits := make([]byte, devicePayloadMax-len("/v")-1)
	if err := c.Write(ctx, "/v", fits); err != nil {
		t.Fatal(err)
	}
	err := c.Write(ctx, "/v", append(fits, 'x'))
	var xe *Error
	if !errors.As(err, &xe) || !errors.Is(err, syscall.E2BIG) || xe.Detail == "" {
		t.Fatalf("err = %v", err)
	}
	if c.Err() != nil {
		t.Fatalf("refusal broke the client: %v", c.Err())
	}
}

func TestDialFallbackOrder(t *testing.T) {
	dir := t.TempDir()
	s := xenstoretest.New()
	defer s.Close()
	l, err := net.Listen("unix", filepath.Join(dir, "second"))
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(l)

	oldS, oldD := socketPaths, devicePaths
	defer func() { socketPaths, devicePaths = oldS, oldD }()
	t.Setenv("XENSTORED_PATH", "")
	ctx := context.Background()

	socketPaths = []string{filepath.Join(dir, "first"), filepath.Join(dir, "second")}
	devicePaths = []string{filepath.Join(dir, "dev")}
	c, err := Dial(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Read(ctx, "/local"); err != nil {
		t.Fatal(err)
	}
	c.Close()

	socketPaths = []string{filepath.Join(dir, "first")}
	if _, err := Dial(ctx); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("nothing there: %v", err)
	}
	// Something that exists but is no transport is reported.
	if err := os.WriteFile(filepath.Join(dir, "dev"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Dial(ctx); err == nil || errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("regular file: %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := Dial(cctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
}
