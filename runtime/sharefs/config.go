package sharefs

import (
	"errors"

	"github.com/runxen/runxen/runtime/iolimit"
)

// Defaults for Config's zero fields.
const (
	// DefaultMaxMessageSize is the largest msize offered: 512 KiB is what
	// Linux's Xen 9pfs frontend uses at most. A connection that reports a
	// smaller MaxMessageSize() lowers it.
	DefaultMaxMessageSize = 512 << 10

	// DefaultMaxFIDs bounds the fids of one connection. Linux holds a fid
	// per open file and per cached dentry in use (cwd, ancestors of open
	// files), so this is sized like a generous nofile limit.
	DefaultMaxFIDs = 16384

	// DefaultMaxOpenFiles bounds the host file descriptors one connection
	// makes the server hold: every file the server knows is one O_PATH
	// descriptor, plus one more while it is open for I/O, and a fid keeps
	// the files of its parent directories. The process needs RLIMIT_NOFILE
	// above the sum over its shares (Go raises the soft limit to the hard
	// one at start).
	DefaultMaxOpenFiles = 32768

	// DefaultMaxInflight bounds the requests of one connection in flight;
	// each may hold a message of up to msize bytes.
	DefaultMaxInflight = 32
)

// Config describes one share.
type Config struct {
	// Dir is the host directory to serve: a container's root file system
	// or a volume source. It is trusted (symlinks in it are followed when
	// the share is created); nothing below it is.
	Dir string

	// ReadOnly refuses every operation that would change the share with
	// EROFS. It is decided here, once.
	ReadOnly bool

	// Limiter throttles the share's I/O. Nil means a new, unlimited one
	// (see Share.Limiter to set limits later).
	Limiter *iolimit.Limiter

	// Per-connection bounds; zero means the default above.
	MaxMessageSize uint32
	MaxFIDs        int
	MaxOpenFiles   int
	MaxInflight    int
}

func (c Config) withDefaults() Config {
	if c.MaxMessageSize == 0 {
		c.MaxMessageSize = DefaultMaxMessageSize
	}
	if c.MaxFIDs == 0 {
		c.MaxFIDs = DefaultMaxFIDs
	}
	if c.MaxOpenFiles == 0 {
		c.MaxOpenFiles = DefaultMaxOpenFiles
	}
	if c.MaxInflight == 0 {
		c.MaxInflight = DefaultMaxInflight
	}
	if c.Limiter == nil {
		c.Limiter = iolimit.New(iolimit.Limits{})
	}
	return c
}

// ErrClosed is returned by Serve and Sync after Close.
var ErrClosed = errors.New("sharefs: share closed")
