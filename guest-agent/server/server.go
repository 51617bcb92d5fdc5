package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime/debug"
	"time"

	"github.com/containerd/errdefs"
	"github.com/containerd/errdefs/pkg/errgrpc"
	"github.com/containerd/log"
	"github.com/containerd/ttrpc"

	agent "github.com/runxen/runxen/guest-agent/api/v1"
)

// New returns a ttrpc server with svc registered behind the error and
// panic interceptor.
func New(svc agent.AgentService) (*ttrpc.Server, error) {
	srv, err := ttrpc.NewServer(ttrpc.WithUnaryServerInterceptor(intercept))
	if err != nil {
		return nil, fmt.Errorf("ttrpc server: %w", err)
	}
	agent.RegisterAgentService(srv, svc)
	return srv, nil
}

// intercept is the RPC edge: it logs each call, converts errdefs errors to
// gRPC status codes and turns a panic into an Internal error.
func intercept(ctx context.Context, unmarshal ttrpc.Unmarshaler, info *ttrpc.UnaryServerInfo, method ttrpc.Method) (resp any, err error) {
	start := time.Now()
	defer func() {
		if r := recover(); r != nil {
			log.G(ctx).WithField("method", info.FullMethod).Errorf("panic in handler: %v\n%s", r, debug.Stack())
			resp, err = nil, errgrpc.ToGRPC(fmt.Errorf("agent panic in %s: %v: %w", info.FullMethod, r, errdefs.ErrInternal))
		}
	}()
	resp, err = method(ctx, unmarshal)
	entry := log.G(ctx).WithField("method", info.FullMethod).WithField("took", time.Since(start))
	switch {
	case err == nil:
		entry.Trace("call")
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		entry.WithError(err).Debug("call ended early")
	case errdefs.IsNotFound(err) || errdefs.IsAlreadyExists(err) || errdefs.IsFailedPrecondition(err) || errdefs.IsInvalidArgument(err):
		// The host asked for something the guest's state does not allow
		// (signalling a process that just exited is routine).
		entry.WithError(err).Debug("call refused")
	default:
		entry.WithError(err).Warn("call failed")
	}
	return resp, errgrpc.ToGRPC(err)
}

// ListenFunc opens a listener; Serve calls it again whenever the previous
// one failed.
type ListenFunc func(ctx context.Context) (net.Listener, error)

// Backoff bounds between listener attempts.
const (
	minBackoff = 100 * time.Millisecond
	maxBackoff = 5 * time.Second
)

// Serve serves srv on listeners from listen until ctx ends, then closes
// srv. A listener that fails is replaced after a backoff; Serve returns
// only when ctx ends.
func Serve(ctx context.Context, srv *ttrpc.Server, listen ListenFunc) error {
	stop := context.AfterFunc(ctx, func() { srv.Close() })
	defer stop()
	backoff := minBackoff
	for ctx.Err() == nil {
		l, err := listen(ctx)
		if err == nil {
			log.G(ctx).WithField("address", l.Addr().String()).Info("serving the agent API")
			start := time.Now()
			err = srv.Serve(ctx, &eofListener{l})
			if errors.Is(err, ttrpc.ErrServerClosed) || ctx.Err() != nil {
				break
			}
			if time.Since(start) > maxBackoff {
				backoff = minBackoff // it served a while: not a tight failure loop
			}
		}
		log.G(ctx).WithError(err).Errorf("listener failed; listening again in %v", backoff)
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
		}
		backoff = min(2*backoff, maxBackoff)
	}
	return ctx.Err()
}

// eofListener wraps accepted connections in eofConn.
type eofListener struct{ net.Listener }

func (l *eofListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	log.L.WithField("remote", c.RemoteAddr().String()).Info("host connected")
	return &eofConn{Conn: c}, nil
}

// eofConn reports every read error as an unexpected EOF, so that ttrpc
// closes the connection (see the package doc).
type eofConn struct{ net.Conn }

func (c *eofConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		if !errors.Is(err, net.ErrClosed) {
			log.L.WithError(err).Warn("connection failed; closing it")
		}
		err = fmt.Errorf("%w: %w", io.ErrUnexpectedEOF, err)
	}
	return n, err
}

func (c *eofConn) Close() error {
	log.L.WithField("remote", c.RemoteAddr().String()).Info("host connection closed")
	return c.Conn.Close()
}
