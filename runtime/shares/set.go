package shares

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/containerd/log"

	"github.com/runxen/runxen/runtime/iolimit"
	"github.com/runxen/runxen/runtime/xen9pfs"
)

// DefaultConnectTimeout bounds WaitConnected when Config.ConnectTimeout is
// zero. A Linux guest connects its 9pfs devices when 9pnet_xen loads,
// early in its boot: seconds on hardware, a minute or two in a lab under
// emulation. A guest that has not connected by then never will (its
// driver is missing or the device was refused), and it is waiting at boot
// for a device that never comes.
const DefaultConnectTimeout = 3 * time.Minute

// Errors.
var (
	// ErrClosed: the Set was closed.
	ErrClosed = errors.New("shares: closed")
	// ErrUnknownShare: no share has that tag.
	ErrUnknownShare = errors.New("shares: no such share")
	// ErrDuplicateTag: the domain already has a share with that tag.
	ErrDuplicateTag = errors.New("shares: tag already in use")
)

// Config describes the shares of one guest domain.
type Config struct {
	// Store is dom0's xenstore connection. Required; the Set does not
	// close it.
	Store xen9pfs.Store
	// Devices binds event channels and maps grants; nil means the real
	// Xen devices.
	Devices xen9pfs.Devices
	// Domain is the guest. Required.
	Domain uint32
	// BackendDomain is the domain serving the shares, normally 0.
	BackendDomain uint32
	// DomainExited tells whether the guest will never run again (see
	// xen9pfs.Config.DomainExited); xen9pfs.ToolstackExited asks the
	// toolstack, so devices go as soon as the guest shuts down.
	DomainExited func(ctx context.Context, domid uint32) (bool, error)
	// MaxRingPageOrder is xen9pfs's ring order, the same for every share
	// of the domain; 0 means xen9pfs's default (the guest may then use an
	// msize up to 512 KiB).
	MaxRingPageOrder int
	// ConnectTimeout bounds WaitConnected; 0 means DefaultConnectTimeout.
	ConnectTimeout time.Duration
	// NewServer makes the file server of a share; nil means
	// runtime/sharefs.
	NewServer func(ServerConfig) (Server, error)
}

// Set is the shares of one guest domain. Create it with New, Add shares
// while the domain is paused, WaitConnected after unpausing it, and Close
// it when the domain is gone. Methods are safe for concurrent use.
type Set struct {
	cfg Config
	ctx context.Context // carries the logger; never cancelled
	b   *xen9pfs.Backend

	mu     sync.Mutex
	shares []*share        // in the order added; guarded by mu
	adding map[string]bool // tags of Adds in progress; guarded by mu
	closed bool            // guarded by mu

	watchers sync.WaitGroup
}

// share is one share of the Set.
type share struct {
	spec  Spec // Limits as first given; lim holds the current ones
	srv   Server
	lim   *iolimit.Limiter
	dev   *xen9pfs.Device
	ended chan struct{} // closed once the device ended and that was logged
}

// New starts serving shares to domain cfg.Domain (none yet: see Add). ctx
// bounds New and carries the logger.
func New(ctx context.Context, cfg Config) (*Set, error) {
	if cfg.Store == nil {
		return nil, errors.New("shares: Config.Store is nil")
	}
	if cfg.NewServer == nil {
		cfg.NewServer = defaultServer
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = DefaultConnectTimeout
	}
	b, err := xen9pfs.New(ctx, xen9pfs.Config{
		Store:            cfg.Store,
		Devices:          cfg.Devices,
		Domain:           cfg.Domain,
		BackendDomain:    cfg.BackendDomain,
		MaxRingPageOrder: cfg.MaxRingPageOrder,
		DomainExited:     cfg.DomainExited,
	})
	if err != nil {
		return nil, fmt.Errorf("shares of domain %d: %w", cfg.Domain, err)
	}
	return &Set{
		cfg:    cfg,
		ctx:    log.WithLogger(context.WithoutCancel(ctx), log.G(ctx).WithField("domid", cfg.Domain)),
		b:      b,
		adding: make(map[string]bool),
	}, nil
}

// Add serves spec's directory to the guest as a new 9pfs device tagged
// spec.Tag. Add it while the domain is paused (see the package doc); Add
// does not wait for the guest, WaitConnected does. If Add fails, nothing
// of the share is left.
func (s *Set) Add(ctx context.Context, spec Spec) error {
	if err := spec.check(); err != nil {
		return err
	}
	s.mu.Lock()
	switch {
	case s.closed:
		s.mu.Unlock()
		return fmt.Errorf("add share %q: %w", spec.Tag, ErrClosed)
	case s.adding[spec.Tag] || s.findLocked(spec.Tag) != nil:
		s.mu.Unlock()
		return fmt.Errorf("add share %q of domain %d: %w", spec.Tag, s.cfg.Domain, ErrDuplicateTag)
	}
	s.adding[spec.Tag] = true
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.adding, spec.Tag)
		s.mu.Unlock()
	}()

	lim := iolimit.New(spec.Limits)
	srv, err := s.cfg.NewServer(ServerConfig{Dir: spec.Dir, ReadOnly: spec.ReadOnly, Limiter: lim})
	if err != nil {
		return fmt.Errorf("share %q (%s): file server: %w", spec.Tag, spec.Dir, err)
	}
	dev, err := s.b.Add(ctx, xen9pfs.Share{Tag: spec.Tag, Handler: srv, Path: spec.Dir})
	if err != nil {
		srv.Close()
		return fmt.Errorf("share %q (%s): %w", spec.Tag, spec.Dir, err)
	}
	sh := &share{spec: spec, srv: srv, lim: lim, dev: dev, ended: make(chan struct{})}
	s.mu.Lock()
	if s.closed {
		// Close ran meanwhile and did not see this share; the Backend's
		// Close already took its device down.
		s.mu.Unlock()
		dev.Close()
		srv.Close()
		return fmt.Errorf("add share %q: %w", spec.Tag, ErrClosed)
	}
	s.shares = append(s.shares, sh)
	s.watchers.Add(1)
	s.mu.Unlock()
	go s.watch(sh)
	log.G(s.ctx).WithField("tag", spec.Tag).WithField("dir", spec.Dir).WithField("devid", dev.DevID()).
		WithField("readonly", spec.ReadOnly).Debug("shares: share added")
	return nil
}

func (s *Set) findLocked(tag string) *share {
	for _, sh := range s.shares {
		if sh.spec.Tag == tag {
			return sh
		}
	}
	return nil
}

func (s *Set) find(tag string) (*share, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	sh := s.findLocked(tag)
	if sh == nil {
		return nil, fmt.Errorf("share %q of domain %d: %w", tag, s.cfg.Domain, ErrUnknownShare)
	}
	return sh, nil
}

func (s *Set) list() []*share {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*share(nil), s.shares...)
}

// watch logs why a share's device ended. The share's file server stays
// open (Sync still flushes its directory) until Close.
func (s *Set) watch(sh *share) {
	defer s.watchers.Done()
	defer close(sh.ended)
	<-sh.dev.Done()
	err := sh.dev.Err()
	l := log.G(s.ctx).WithField("tag", sh.spec.Tag).WithField("dir", sh.spec.Dir).WithField("devid", sh.dev.DevID())
	switch {
	case errors.Is(err, xen9pfs.ErrClosed):
		l.Debug("shares: share closed")
	case errors.Is(err, xen9pfs.ErrDomainGone), errors.Is(err, xen9pfs.ErrFrontendClosed), errors.Is(err, xen9pfs.ErrRemoved):
		l.WithError(err).Info("shares: share ended")
	default:
		// A hostile or broken frontend, or the file server failing.
		l.WithError(err).Error("shares: share torn down; the domain's other shares keep serving")
	}
}

// WaitConnected waits until the guest has connected every share added so
// far, at most Config.ConnectTimeout (or until ctx ends). The error names
// every share that did not connect, how far its handshake got and what
// the guest reported, if anything. The caller then destroys the domain
// and Closes the Set.
func (s *Set) WaitConnected(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.ConnectTimeout)
	defer cancel()
	var errs []error
	for _, sh := range s.list() {
		if err := sh.dev.WaitConnected(ctx); err != nil {
			errs = append(errs, fmt.Errorf("share %q (%s): %w", sh.spec.Tag, sh.spec.Dir, err))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("domain %d did not connect its shares within %s: %w", s.cfg.Domain, s.cfg.ConnectTimeout, errors.Join(errs...))
	}
	return nil
}

// Sync flushes every share's directory to disk, once the requests in
// flight have been answered; with the guest's own flush first (the
// agent's SyncFS), everything the guest wrote is then on disk. Shares
// whose device ended are flushed too. Errors name their share.
func (s *Set) Sync(ctx context.Context) error {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return fmt.Errorf("sync shares: %w", ErrClosed)
	}
	var errs []error
	for _, sh := range s.list() {
		if err := sh.srv.Sync(ctx); err != nil {
			errs = append(errs, fmt.Errorf("sync share %q (%s): %w", sh.spec.Tag, sh.spec.Dir, err))
		}
	}
	return errors.Join(errs...)
}

// SetLimits changes a share's I/O limits at once, while the guest runs;
// requests already waiting for tokens are re-timed under the new limits.
func (s *Set) SetLimits(tag string, l iolimit.Limits) error {
	sh, err := s.find(tag)
	if err != nil {
		return err
	}
	sh.lim.SetLimits(l)
	log.G(s.ctx).WithField("tag", tag).WithField("limits", fmt.Sprintf("%+v", l)).Debug("shares: limits changed")
	return nil
}

// Status describes one share.
type Status struct {
	// Spec is the share, with its current limits.
	Spec
	// DevID is its 9pfs device's ID in xenstore.
	DevID uint32
	// Err is nil while the device serves, then why it ended.
	Err error
	// Stats are the share's I/O counters so far.
	Stats iolimit.Stats
}

// Status returns the shares, in the order they were added.
func (s *Set) Status() []Status {
	var out []Status
	for _, sh := range s.list() {
		st := Status{Spec: sh.spec, DevID: sh.dev.DevID(), Err: sh.dev.Err(), Stats: sh.lim.Stats()}
		st.Limits = sh.lim.Limits()
		out = append(out, st)
	}
	return out
}

// Close tears every share down: devices (xenstore nodes, grant mappings,
// event channels) first, then the file servers. It is idempotent; later
// calls of other methods fail with ErrClosed. It returns what went wrong
// in the teardown, after making sure no node of the domain's 9pfs devices
// is left.
func (s *Set) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	list := s.shares
	s.mu.Unlock()

	var errs []error
	if err := s.b.Close(); err != nil {
		// A device could not remove its nodes (xenstore trouble): try once
		// more, all of them in one transaction.
		errs = append(errs, err)
		ctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
		if err := xen9pfs.RemoveAll(ctx, s.cfg.Store, s.cfg.BackendDomain, s.cfg.Domain); err != nil {
			errs = append(errs, fmt.Errorf("remove 9pfs nodes of domain %d: %w", s.cfg.Domain, err))
		}
		cancel()
	}
	s.watchers.Wait()
	for _, sh := range list {
		if err := sh.srv.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close file server of share %q: %w", sh.spec.Tag, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close shares of domain %d: %w", s.cfg.Domain, err)
	}
	return nil
}
