//go:build ignore && (linux)

package sharefs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"

	"github.com/containerd/log"
	"golang.org/x/sys/unix"

	"github.com/runxen/runxen/runtime/iolimit"
	"github.com/runxen/runxen/runtime/sharefs/internal/p9"
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
// nil when the connection simply ended.
//
// conn carries 9P messages as a byte stream. Read is called by one
// goroutine at a time; Write is called with whole replies, never
// concurrently, possibly in several pieces per reply unless conn implements
// WriteVectors([][]byte) error, which then gets every reply in one call.
// Close must make a pending Read return. If conn has a MaxMessageSize() int
// method, the negotiated msize stays within it.
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

	msize := s.cfg.MaxMessageSize
	if m, ok := conn.(interface{ MaxMessageSize() int }); ok && m.MaxMessageSize() > 0 {
		msize = min(msize, uint32(min(m.MaxMessageSize(), 1<<30)))
	}
	logger := log.G(ctx).WithField("share", s.cfg.Dir)
	srv := p9.NewServer(sess,
		p9.WithMaxMessageSize(msize),
		p9.WithMaxVersion(0), // plain 9P2000.L, what Linux speaks
		p9.WithMaxFIDs(s.cfg.MaxFIDs),
		p9.WithMaxInflight(s.cfg.MaxInflight),
		p9.WithMaxXattrBytes(16*p9.MaxXattrSize),
		p9.WithRequestHooks(s.quiet.begin, s.quiet.end),
		p9.WithServerLogger(p9Logger{logger}),
	)

	rd := &sessionReader{r: conn, cancel: cancel}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	var w io.WriteCloser = conn
	if vw, ok := conn.(p9.VectorWriter); ok {
		w = vectorConn{conn, vw}
	}
	logger.Debug("sharefs: session started")
	srv.Handle(rd, w)

	if err := rd.err(); err != nil && !isClosedErr(err) {
		logger.WithError(err).Debug("sharefs: session ended")
		return fmt.Errorf("sharefs: %s: %w", s.cfg.Dir, err)
	}
	logger.Debug("sharefs: session ended")
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

// sessionReader is the request side of a connection. It ends the session's
// context when reading fails or the server closes it, so that requests
// waiting for the share's I/O limits give up and the server's shutdown (which
// waits for every request) is prompt.
type sessionReader struct {
	r      io.ReadCloser
	cancel context.CancelFunc

	mu      sync.Mutex
	readErr error // guarded by mu
}

func (r *sessionReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if err != nil {
		r.mu.Lock()
		if r.readErr == nil {
			r.readErr = err
		}
		r.mu.Unlock()
		r.cancel()
	}
	return n, err
}

func (r *sessionReader) Close() error {
	r.cancel()
	return r.r.Close()
}

func (r *sessionReader) err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.readErr
}

// isClosedErr reports whether a read error just means the connection ended.
func isClosedErr(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrClosedPipe) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, context.Canceled) || errors.Is(err, unix.ECONNRESET)
}

// vectorConn keeps a connection's WriteVectors visible to the p9 server.
type vectorConn struct {
	io.WriteCloser
	p9.VectorWriter
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

// p9Logger sends the p9 server's log lines to containerd's log: protocol
// violations and handler panics as warnings, everything else at debug level.
type p9Logger struct{ l *log.Entry }

func (l p9Logger) Printf(format string, v ...any) {
	if strings.HasPrefix(format, "p9: closing") || strings.HasPrefix(format, "panic") {
		l.l.Warnf(format, v...)
		return
	}
	l.l.Debugf(format, v...)
}

// Tracing implements p9.Tracer: every message is logged at trace level.
func (l p9Logger) Tracing() bool { return l.l.Logger.IsLevelEnabled(log.TraceLevel) }
