package server

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"strings"

	agent "github.com/runxen/runxen/guest-agent/api/v1"
	"github.com/runxen/runxen/runtime/vchan"
	"github.com/runxen/runxen/runtime/xenstore"
)

// Ring sizes of the agent's vchan; see the package doc.
const (
	SendRing = 1 << 20   // guest -> dom0
	RecvRing = 256 << 10 // dom0 -> guest
)

// ParseAddress turns a --listen value into a ListenFunc: "vchan" (the
// agent's vchan to dom0) or "unix:///path/to/socket".
func ParseAddress(addr string) (ListenFunc, error) {
	switch {
	case addr == "vchan":
		return ListenVchan(VchanConfig{}), nil
	case strings.HasPrefix(addr, "unix://"):
		p := strings.TrimPrefix(addr, "unix://")
		if !strings.HasPrefix(p, "/") {
			return nil, fmt.Errorf("listen address %q: want unix:///absolute/path", addr)
		}
		return ListenUnix(p), nil
	default:
		return nil, fmt.Errorf("listen address %q: want \"vchan\" or \"unix:///path\"", addr)
	}
}

// ListenUnix listens on a unix socket at path, replacing a stale one.
func ListenUnix(path string) ListenFunc {
	return func(ctx context.Context) (net.Listener, error) {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("remove stale socket: %w", err)
		}
		var lc net.ListenConfig
		return lc.Listen(ctx, "unix", path)
	}
}

// VchanConfig configures ListenVchan. Zero values are right for a guest.
type VchanConfig struct {
	// Store is the xenstore connection; nil dials the guest's xenstore
	// (/dev/xen/xenbus) for each listener.
	Store vchan.Store
	// Devices are the event channel and grant devices; nil means Xen's.
	Devices vchan.Devices
	// Domain is the guest's own domain ID; nil reads "domid" from xenstore.
	Domain *uint32
	// RecvSize and SendSize override RecvRing and SendRing.
	RecvSize, SendSize int
}

// ListenVchan publishes the agent's vchan server for dom0 at
// agent.AgentVchanPath(own domid).
func ListenVchan(cfg VchanConfig) ListenFunc {
	return func(ctx context.Context) (net.Listener, error) {
		st := cfg.Store
		if st == nil {
			xs, err := xenstore.Dial(ctx)
			if err != nil {
				return nil, fmt.Errorf("dial xenstore: %w", err)
			}
			st = xs
			// The client lives as long as the listener: closeStore closes
			// it with the listener.
			l, err := listenVchan(ctx, cfg, st)
			if err != nil {
				xs.Close()
				return nil, err
			}
			return &closeStore{Listener: l, xs: xs}, nil
		}
		return listenVchan(ctx, cfg, st)
	}
}

func listenVchan(ctx context.Context, cfg VchanConfig, st vchan.Store) (net.Listener, error) {
	dom := cfg.Domain
	if dom == nil {
		d, err := vchan.LocalDomain(ctx, st)
		if err != nil {
			return nil, err
		}
		dom = &d
	}
	recv, send := cfg.RecvSize, cfg.SendSize
	if recv == 0 {
		recv = RecvRing
	}
	if send == 0 {
		send = SendRing
	}
	l, err := vchan.Listen(ctx, vchan.Config{
		Devices:     cfg.Devices,
		Store:       st,
		Peer:        0,
		Path:        agent.AgentVchanPath(*dom),
		LocalDomain: dom,
		RecvSize:    recv,
		SendSize:    send,
	})
	if err != nil {
		return nil, fmt.Errorf("listen on vchan: %w", err)
	}
	return l, nil
}

// closeStore closes the listener's own xenstore client with it.
type closeStore struct {
	net.Listener
	xs *xenstore.Client
}

func (c *closeStore) Close() error {
	err := c.Listener.Close()
	c.xs.Close()
	return err
}
