//go:build linux

package sharefs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/containerd/log"
	"golang.org/x/sys/unix"

	"github.com/runxen/runxen/runtime/iolimit"
	"github.com/runxen/runxen/runtime/p9"
)

// Share is the file server for one host directory. It serves any number of
// connections (each its own 9P session) and is safe for concurrent use.
type Share struct {
	cfg     Config
	rootFD  int // O_PATH descriptor of cfg.Dir
	rootDev uint64
	rootIno uint64
	syncFD  int // O_RDONLY descriptor of cfg.Dir, for syncfs

	quiet quiet // requests in flight on all connections

	mu       sync.Mutex
	closed   bool                            // guarded by mu
	sessions map[*session]context.CancelFunc // guarded by mu
	wg       sync.WaitGroup                  // Serve calls running
}

// New opens cfg.Dir and returns its share. The directory stays open (by
// descriptor) until Close: renaming or replacing the path afterwards does not
// change what is served.
func New(cfg Config) (*Share, error) {
	if err := checkProc(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if cfg.Dir == "" {
		return nil, errors.New("sharefs: no directory")
	}
	rootFD, err := unix.Open(cfg.Dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("sharefs: open share %s: %w", cfg.Dir, err)
	}
	st, err := fstat(rootFD)
	if err != nil {
		unix.Close(rootFD)
		return nil, fmt.Errorf("sharefs: stat share %s: %w", cfg.Dir, err)
	}
	syncFD, err := openat(rootFD, ".", unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		unix.Close(rootFD)
		return nil, fmt.Errorf("sharefs: open share %s: %w", cfg.Dir, err)
	}
	return &Share{
		cfg:      cfg,
		rootFD:   rootFD,
		rootDev:  st.Dev,
		rootIno:  st.Ino,
		syncFD:   syncFD,
		quiet:    newQuiet(),
		sessions: make(map[*session]context.CancelFunc),
	}, nil
}

// Limiter returns the share's limiter, for live SetLimits and Stats.
func (s *Share) Limiter() *iolimit.Limiter { return s.cfg.Limiter }

// ReadOnly reports whether the share refuses changes.
func (s *Share) ReadOnly() bool { return s.cfg.ReadOnly }

// Serve runs one 9P2000.L session over conn until the peer goes away, ctx
// ends, the share is closed, or the client breaks the protocol. It returns
// nil when the connection simply ended, and an error wrapping
// p9.ErrProtocol when the client broke the protocol.
//
// conn carries 9P messages as a byte stream (a xen9pfs connection, a unix
// socket, net.Pipe in tests). Read is called by one goroutine at a time;
// replies are written whole, one at a time, in one WriteVectors([][]byte)
// call if conn has that method. Close must make a pending Read return. If
// conn has a MaxMessageSize() int method, the negotiated msize stays
// within it.
func (s *Share) Serve(ctx context.Context, conn io.ReadWriteCloser) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sess := &session{share: s, ctx: ctx, maxFiles: int64(s.cfg.MaxOpenFiles)}

	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	s.sessions[sess] = cancel
	s.wg.Add(1)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.sessions, sess)
		s.mu.Unlock()
		s.wg.Done()
	}()

	ctx = log.WithLogger(ctx, log.G(ctx).WithField("share", s.cfg.Dir))
	srv := &p9.Server{
		Attacher:       sess,
		MaxMessageSize: s.cfg.MaxMessageSize,
		MaxFIDs:        s.cfg.MaxFIDs,
		MaxInflight:    s.cfg.MaxInflight,
		MaxXattrBytes:  16 * p9.MaxXattrSize,
		BeginRequest:   s.quiet.begin,
		EndRequest:     s.quiet.end,
	}
	log.G(ctx).Debug("sharefs: session started")
	// The p9 server closes the connection as soon as reading ends, before
	// it waits for the requests in progress: that close also ends the
	// session's context, so requests waiting for the I/O limits give up
	// at once.
	err := srv.Serve(ctx, wrapConn(conn, cancel))
	if err != nil {
		log.G(ctx).WithError(err).Debug("sharefs: session ended")
		return fmt.Errorf("sharefs: %s: %w", s.cfg.Dir, err)
	}
	log.G(ctx).Debug("sharefs: session ended")
	return nil
}

// Sync waits until no request is being handled on any connection of the
// share, then flushes the share's file system to disk (syncfs). Call it with
// the guest paused, before docker commit or a snapshot reads the directory:
// replies to requests the guest has already sent may still be on their way,
// and Sync waits for them. The transport should have handed the server every
// request the guest queued before pausing. Sync returns ctx's error if ctx
// ends first (the syncfs itself then still runs to completion).
func (s *Share) Sync(ctx context.Context) error {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return ErrClosed
	}
	if err := s.quiet.wait(ctx); err != nil {
		return fmt.Errorf("sharefs: sync %s: %w", s.cfg.Dir, err)
	}
	done := make(chan error, 1)
	go func() { done <- retryEINTR(func() error { return unix.Syncfs(s.syncFD) }) }()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("sharefs: syncfs %s: %w", s.cfg.Dir, err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("sharefs: sync %s: %w", s.cfg.Dir, ctx.Err())
	}
}

// Close ends every session (closing their connections), waits for their
// Serve calls to return and releases the directory.
func (s *Share) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	for _, cancel := range s.sessions {
		cancel()
	}
	s.mu.Unlock()
	s.wg.Wait()
	return errors.Join(unix.Close(s.rootFD), unix.Close(s.syncFD))
}

// sessionConn is a session's connection: closing it also ends the
// session's context. It keeps the transport's MaxMessageSize visible to the
// p9 server (0: no limit of its own).
type sessionConn struct {
	io.ReadWriteCloser
	cancel context.CancelFunc
}

func (c *sessionConn) Close() error {
	c.cancel()
	return c.ReadWriteCloser.Close()
}

func (c *sessionConn) MaxMessageSize() int {
	if m, ok := c.ReadWriteCloser.(interface{ MaxMessageSize() int }); ok {
		return m.MaxMessageSize()
	}
	return 0
}

// vectorSessionConn is a sessionConn whose transport takes whole replies
// in pieces (xen9pfs).
type vectorSessionConn struct {
	*sessionConn
	p9.VectorWriter
}

func wrapConn(conn io.ReadWriteCloser, cancel context.CancelFunc) io.ReadWriteCloser {
	sc := &sessionConn{ReadWriteCloser: conn, cancel: cancel}
	if vw, ok := conn.(p9.VectorWriter); ok {
		return vectorSessionConn{sc, vw}
	}
	return sc
}

// quiet counts requests in flight, for Sync.
type quiet struct {
	mu   sync.Mutex
	n    int           // guarded by mu
	idle chan struct{} // closed while n == 0; guarded by mu
}

func newQuiet() quiet {
	idle := make(chan struct{})
	close(idle)
	return quiet{idle: idle}
}

func (q *quiet) begin() {
	q.mu.Lock()
	if q.n == 0 {
		q.idle = make(chan struct{})
	}
	q.n++
	q.mu.Unlock()
}

func (q *quiet) end() {
	q.mu.Lock()
	q.n--
	if q.n == 0 {
		close(q.idle)
	}
	q.mu.Unlock()
}

func (q *quiet) wait(ctx context.Context) error {
	q.mu.Lock()
	idle := q.idle
	q.mu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
