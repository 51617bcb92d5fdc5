package xenstore

import (
	"context"
	"errors"
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
