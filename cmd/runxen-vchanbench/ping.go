//go:build linux

package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"sync"

	"github.com/containerd/ttrpc"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// A ttrpc service defined by hand (no protoc): one method that returns its
// request, for round-trip latency over ttrpc's framing, as the shim's calls
// to the agent will pay it.
const (
	pingService = "runxen.vchanbench.v1.Bench"
	pingMethod  = "Ping"
)

func newPingServer() (*ttrpc.Server, error) {
	s, err := ttrpc.NewServer()
	if err != nil {
		return nil, err
	}
	s.Register(pingService, map[string]ttrpc.Method{
		pingMethod: func(ctx context.Context, unmarshal func(any) error) (any, error) {
			var req wrapperspb.BytesValue
			if err := unmarshal(&req); err != nil {
				return nil, err
			}
			return &req, nil
		},
	})
	return s, nil
}

func ping(ctx context.Context, c *ttrpc.Client, payload []byte) error {
	var resp wrapperspb.BytesValue
	return c.Call(ctx, pingService, pingMethod, &wrapperspb.BytesValue{Value: payload}, &resp)
}

// pingCheck calls Ping and checks the reply carries the payload back.
func pingCheck(ctx context.Context, c *ttrpc.Client, payload []byte) error {
	var resp wrapperspb.BytesValue
	if err := c.Call(ctx, pingService, pingMethod, &wrapperspb.BytesValue{Value: payload}, &resp); err != nil {
		return err
	}
	if !bytes.Equal(resp.Value, payload) {
		return fmt.Errorf("reply of %d bytes differs from the %d-byte request", len(resp.Value), len(payload))
	}
	return nil
}

// connListener hands connections, one by one, to a ttrpc server's Serve.
type connListener struct {
	conns     chan net.Conn
	done      chan struct{}
	closeOnce sync.Once
}

func newConnListener() *connListener {
	return &connListener{conns: make(chan net.Conn), done: make(chan struct{})}
}

func (l *connListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// hand gives c to the server; it fails once the listener is closed.
func (l *connListener) hand(c net.Conn) error {
	select {
	case l.conns <- c:
		return nil
	case <-l.done:
		return net.ErrClosed
	}
}

func (l *connListener) Close() error {
	l.closeOnce.Do(func() { close(l.done) })
	return nil
}

func (l *connListener) Addr() net.Addr { return pipeAddr{} }

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "ttrpc-handoff" }
