package shares

import (
	"context"
	"io"

	"github.com/runxen/runxen/runtime/iolimit"
	"github.com/runxen/runxen/runtime/sharefs"
)

// Server is the file server of one share: what the Set needs of a
// *sharefs.Share. Tests give the Set fakes through Config.NewServer.
type Server interface {
	// Serve runs one 9P session over conn until it ends (xen9pfs.Handler).
	Serve(ctx context.Context, conn io.ReadWriteCloser) error
	// Sync waits for the requests in flight and flushes the directory
	// to disk.
	Sync(ctx context.Context) error
	// Close ends every session and releases the directory.
	Close() error
}

// ServerConfig is what a Server is made from: sharefs.Config's fields
// that a Spec decides.
type ServerConfig struct {
	Dir      string
	ReadOnly bool
	// Limiter is the share's; the Set keeps it to change the limits.
	Limiter *iolimit.Limiter
}

// defaultServer makes the Server when Config.NewServer is nil: a
// runtime/sharefs Share.
func defaultServer(c ServerConfig) (Server, error) {
	return sharefs.New(sharefs.Config{Dir: c.Dir, ReadOnly: c.ReadOnly, Limiter: c.Limiter})
}

var _ Server = (*sharefs.Share)(nil)
