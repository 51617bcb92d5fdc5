package vchan

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/runxen/runxen/runtime/xenstore"
)

// Store is the part of *xenstore.Client a vchan uses.
type Store interface {
	Read(ctx context.Context, path string) ([]byte, error)
	Write(ctx context.Context, path string, value []byte) error
	Rm(ctx context.Context, path string) error
	SetPermissions(ctx context.Context, path string, perms []xenstore.Permission) error
	Transaction(ctx context.Context, fn func(tx *xenstore.Tx) error) error
	Watch(ctx context.Context, path, token string) (*xenstore.Watch, error)
}

var _ Store = (*xenstore.Client)(nil)

// Config describes one end of a vchan.
type Config struct {
	// Devices gives event channels and grants; nil means XenDevices().
	Devices Devices
	// Store is the xenstore connection. Required.
	Store Store
	// Peer is the other end's domain ID.
	Peer uint32
	// Path is the xenstore directory of the vchan, where the server
	// writes ring-ref and event-channel. The convention is
	// /local/domain/<server>/data/vchan/<client>/<port>. It may be at
	// most MaxPathLen bytes long.
	Path string
	// LocalDomain is this domain's ID, for the server's xenstore
	// permissions and for LocalAddr. Nil means read "domid" from
	// xenstore (the server) or leave it unknown (the client).
	LocalDomain *uint32

	// RecvSize and SendSize are, for the server only, the minimum number
	// of bytes the server's receiving (left) and sending (right) rings
	// hold, up to MaxRingSize. Zero or small values use the rings inside
	// the shared page (1 KiB and 2 KiB, one grant in all, libxenvchan's
	// default); larger ones cost one grant per 4 KiB and give fewer
	// wakeups per byte.
	RecvSize, SendSize int
}

// DefaultPath returns the conventional xenstore path of a vchan served by
// domain server to domain client under name.
func DefaultPath(server, client uint32, name string) string {
	return fmt.Sprintf("/local/domain/%d/data/vchan/%d/%s", server, client, name)
}

// MaxPathLen is the longest Config.Path libxenvchan handles: it builds
// "<path>/event-channel" and "<path>/ring-ref" in 64-byte buffers with
// snprintf, so a longer path is silently cut, on both ends, to 63 bytes
// (found in the lab: a C server then publishes ".../event-chann"). This
// package refuses longer paths rather than imitate the cut.
const MaxPathLen = 63 - len("/event-channel")

func (cfg *Config) check() error {
	if cfg.Store == nil {
		return fmt.Errorf("vchan: Config.Store is nil")
	}
	if cfg.Path == "" || strings.HasSuffix(cfg.Path, "/") {
		return fmt.Errorf("vchan: bad xenstore path %q", cfg.Path)
	}
	if len(cfg.Path) > MaxPathLen {
		return fmt.Errorf("vchan: xenstore path %q is %d bytes long; libxenvchan peers cut paths longer than %d bytes", cfg.Path, len(cfg.Path), MaxPathLen)
	}
	if cfg.Devices == nil {
		cfg.Devices = XenDevices()
	}
	return nil
}

// LocalDomain reads this domain's ID from xenstore (the relative "domid").
func LocalDomain(ctx context.Context, st Store) (uint32, error) {
	b, err := st.Read(ctx, "domid")
	if err != nil {
		return 0, fmt.Errorf("vchan: read own domid: %w", err)
	}
	return parseUint32("domid", b)
}

// parseUint32 parses a decimal xenstore value strictly.
func parseUint32(what string, b []byte) (uint32, error) {
	s := strings.TrimRight(string(b), "\x00")
	v, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("%w: %s %q is not a decimal uint32", ErrProtocol, what, sanitize(s))
	}
	return uint32(v), nil
}

func sanitize(s string) string {
	if len(s) > 32 {
		s = s[:32] + "..."
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e {
			return '?'
		}
		return r
	}, s)
}
