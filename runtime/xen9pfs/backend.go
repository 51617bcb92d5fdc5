package xen9pfs

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/containerd/log"

	"github.com/runxen/runxen/runtime/vchan"
	"github.com/runxen/runxen/runtime/xenstore"
)

// Store is the part of *xenstore.Client the backend uses.
type Store interface {
	Read(ctx context.Context, path string) ([]byte, error)
	Write(ctx context.Context, path string, value []byte) error
	Rm(ctx context.Context, path string) error
	Transaction(ctx context.Context, fn func(tx *xenstore.Tx) error) error
	Watch(ctx context.Context, path, token string) (*xenstore.Watch, error)
	IsIntroduced(ctx context.Context, domid uint32) (bool, error)
}

var _ Store = (*xenstore.Client)(nil)

// Devices is what a backend needs of the Xen devices: binding to the
// frontend's event channels and mapping its granted pages.
// vchan.XenDevices() is the real one; vchantest's fake domains implement
// it for tests.
type Devices interface {
	// BindInterdomain binds a local port to port remotePort of domain
	// remote.
	BindInterdomain(remote, remotePort uint32) (vchan.EventChannel, error)
	// Map maps grant references of domain remote contiguously, in order;
	// Close unmaps (munmap first, then the grants are released).
	Map(remote uint32, refs []uint32, writable bool) (vchan.Mapped, error)
}

// Defaults for Config.
const (
	// DefaultMaxRings is what Linux needs: its frontend always asks for
	// two rings and refuses a backend offering fewer.
	DefaultMaxRings = 2
	// DefaultMaxRingPageOrder 8 gives rings of 256 pages (512 KiB each
	// way) and lets Linux use its largest msize, 512 KiB; each device then
	// costs the guest 2 MiB (two rings) and dom0 514 grant mappings. One
	// 512 KiB message fills a whole ring, though: mount with msize=262144
	// to keep two in flight per ring, or use order 9 (twice the memory).
	// Order 7 halves the cost and limits msize to 128 KiB (what EVE and
	// runX mount with).
	DefaultMaxRingPageOrder = 8
	// DefaultCloseTimeout bounds the closing handshake; Linux itself gives
	// a backend 5 s when the guest shuts down.
	DefaultCloseTimeout = 5 * time.Second
	// DefaultHandlerGrace bounds how long teardown waits for a Handler to
	// return.
	DefaultHandlerGrace = 5 * time.Second
)

// cleanupTimeout bounds each xenstore request the backend makes on its
// own behalf.
const cleanupTimeout = 10 * time.Second

// Config describes the backend for one guest domain.
type Config struct {
	// Store is the xenstore connection. Required; the Backend does not
	// close it.
	Store Store
	// Devices binds event channels and maps grants; nil means
	// vchan.XenDevices().
	Devices Devices
	// Domain is the guest (frontend) domain. Required.
	Domain uint32
	// BackendDomain is the domain this backend runs in, normally 0.
	BackendDomain uint32
	// MaxRings is the largest num-rings a frontend may use, 1 to
	// MaxRingsLimit; 0 means DefaultMaxRings. Linux needs at least 2.
	MaxRings int
	// MaxRingPageOrder is the largest ring order a frontend may use, 1
	// to MaxRingPageOrderLimit; 0 means DefaultMaxRingPageOrder. Linux
	// uses exactly this order, capped at 9. Keep it the same for all of a
	// guest's devices: Linux's transport keeps one message size limit for
	// all devices, lowered to the smallest ring it saw.
	MaxRingPageOrder int
	// DomainExited reports whether the domain will never run again; it is
	// called on every @releaseDomain event (and once when the watch
	// starts). Nil means "xenstored no longer knows the domain", which
	// only becomes true once the domain is destroyed; a toolstack check
	// (state shutdown, dying or gone) lets devices go at shutdown
	// already, so that the dying domain's pages are not held.
	DomainExited func(ctx context.Context, domid uint32) (bool, error)
	// CloseTimeout bounds how long a device waits, after answering the
	// frontend's Closing, for it to reach Closed; 0 means
	// DefaultCloseTimeout.
	CloseTimeout time.Duration
	// HandlerGrace bounds how long teardown waits for a Handler's Serve to
	// return; 0 means DefaultHandlerGrace.
	HandlerGrace time.Duration
}

func (cfg *Config) check() error {
	if cfg.Store == nil {
		return errors.New("xen9pfs: Config.Store is nil")
	}
	if cfg.Domain == 0 || cfg.Domain > maxDomID || cfg.BackendDomain > maxDomID || cfg.Domain == cfg.BackendDomain {
		return fmt.Errorf("xen9pfs: bad domains: guest %d, backend %d", cfg.Domain, cfg.BackendDomain)
	}
	if cfg.Devices == nil {
		cfg.Devices = vchan.XenDevices()
	}
	if cfg.MaxRings == 0 {
		cfg.MaxRings = DefaultMaxRings
	}
	if cfg.MaxRings < 1 || cfg.MaxRings > MaxRingsLimit {
		return fmt.Errorf("xen9pfs: MaxRings %d outside [1, %d]", cfg.MaxRings, MaxRingsLimit)
	}
	if cfg.MaxRingPageOrder == 0 {
		cfg.MaxRingPageOrder = DefaultMaxRingPageOrder
	}
	if cfg.MaxRingPageOrder < 1 || cfg.MaxRingPageOrder > MaxRingPageOrderLimit {
		return fmt.Errorf("xen9pfs: MaxRingPageOrder %d outside [1, %d]", cfg.MaxRingPageOrder, MaxRingPageOrderLimit)
	}
	if cfg.CloseTimeout <= 0 {
		cfg.CloseTimeout = DefaultCloseTimeout
	}
	if cfg.HandlerGrace <= 0 {
		cfg.HandlerGrace = DefaultHandlerGrace
	}
	return nil
}

// maxDomID is the largest ordinary domain ID (DOMID_FIRST_RESERVED - 1).
const maxDomID = 0x7FEF

// Errors that say why a device ended (Device.Err).
var (
	// ErrClosed: the owner closed the device or its Backend.
	ErrClosed = errors.New("xen9pfs: device closed")
	// ErrDomainGone: the guest domain exited.
	ErrDomainGone = errors.New("xen9pfs: guest domain exited")
	// ErrFrontendClosed: the frontend closed the device (Closing, Closed).
	ErrFrontendClosed = errors.New("xen9pfs: frontend closed the device")
	// ErrRemoved: someone else removed the device's xenstore nodes (the
	// toolstack destroying the domain), or set its backend offline.
	ErrRemoved = errors.New("xen9pfs: device removed from xenstore")
	// ErrNotConnected is wrapped by WaitConnected when its context ends
	// before the frontend connected.
	ErrNotConnected = errors.New("xen9pfs: frontend did not connect")
)

// Share is one directory tree offered to the guest as a 9pfs device.
type Share struct {
	// Tag is what the guest mounts (mount -t 9p -o trans=xen <tag> <dir>):
	// 1 to 63 characters from [A-Za-z0-9._-], unique in the domain.
	Tag string
	// Handler serves the device's 9P traffic. Required.
	Handler Handler
	// Path, if set, is written to the backend node "path" (as libxl
	// does), for people reading xenstore; the backend does not use it.
	Path string
}

func checkTag(tag string) error {
	if len(tag) == 0 || len(tag) > 63 {
		return fmt.Errorf("xen9pfs: tag %q: want 1 to 63 characters", tag)
	}
	for i := 0; i < len(tag); i++ {
		c := tag[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("xen9pfs: tag %q: only [A-Za-z0-9._-] allowed", tag)
		}
	}
	return nil
}

// Backend serves the 9pfs devices of one guest domain. Create it with New,
// add one device per share with Add (before or after the domain first
// runs), wait for the guest with WaitConnected, and Close it when the
// domain goes. Methods are safe for concurrent use.
type Backend struct {
	cfg   Config
	ctx   context.Context // for logging only
	fbase string          // /local/domain/<domid>/device/9pfs
	bbase string          // /local/domain/<backend>/backend/9pfs/<domid>
	ebase string          // /local/domain/<domid>/error/device/9pfs

	mu      sync.Mutex
	devices map[*Device]struct{} // live devices
	closed  bool
	gone    bool // the domain exited

	watch     *xenstore.Watch
	watchDone chan struct{}
}

// New starts the backend for domain cfg.Domain: it watches @releaseDomain
// so that every device goes when the domain does. ctx bounds New and
// carries the logger; the Backend lives until Close.
func New(ctx context.Context, cfg Config) (*Backend, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	dom := strconv.FormatUint(uint64(cfg.Domain), 10)
	b := &Backend{
		cfg:       cfg,
		ctx:       log.WithLogger(context.WithoutCancel(ctx), log.G(ctx).WithField("domid", cfg.Domain)),
		fbase:     "/local/domain/" + dom + "/device/" + DeviceType,
		bbase:     "/local/domain/" + strconv.FormatUint(uint64(cfg.BackendDomain), 10) + "/backend/" + DeviceType + "/" + dom,
		ebase:     "/local/domain/" + dom + "/error/device/" + DeviceType,
		devices:   make(map[*Device]struct{}),
		watchDone: make(chan struct{}),
	}
	w, err := cfg.Store.Watch(ctx, xenstore.ReleaseDomain, "")
	if err != nil {
		return nil, fmt.Errorf("xen9pfs: watch %s: %w", xenstore.ReleaseDomain, err)
	}
	b.watch = w
	go b.watchDomain()
	return b, nil
}

// watchDomain checks the domain on every @releaseDomain event (the first
// one comes at once, covering a domain that died before the watch) and
// ends every device once it exited.
func (b *Backend) watchDomain() {
	defer close(b.watchDone)
	for range b.watch.Events() {
		ctx, cancel := context.WithTimeout(b.ctx, cleanupTimeout)
		exited, err := b.domainExited(ctx)
		cancel()
		if err != nil {
			log.G(b.ctx).WithError(err).Warn("xen9pfs: cannot check whether the domain exited")
			continue
		}
		if exited {
			b.domainGone()
		}
	}
	if err := b.watch.Err(); err != nil {
		// The xenstore connection is gone: nobody can tell us about the
		// domain any more, and the devices' own watches end too.
		log.G(b.ctx).WithError(err).Warn("xen9pfs: @releaseDomain watch ended")
	}
}

func (b *Backend) domainExited(ctx context.Context) (bool, error) {
	if b.cfg.DomainExited != nil {
		return b.cfg.DomainExited(ctx, b.cfg.Domain)
	}
	in, err := b.cfg.Store.IsIntroduced(ctx, b.cfg.Domain)
	return !in, err
}

func (b *Backend) domainGone() {
	b.mu.Lock()
	if !b.gone {
		log.G(b.ctx).Info("xen9pfs: guest domain exited, removing its 9pfs devices")
	}
	b.gone = true
	devs := b.liveLocked()
	b.mu.Unlock()
	for _, d := range devs {
		d.stop(ErrDomainGone)
	}
}

// liveLocked returns the running devices (not those Add is still
// creating).
func (b *Backend) liveLocked() []*Device {
	devs := make([]*Device, 0, len(b.devices))
	for d := range b.devices {
		if d.started {
			devs = append(devs, d)
		}
	}
	slices.SortFunc(devs, func(x, y *Device) int { return int(x.id) - int(y.id) })
	return devs
}

// Devices returns the devices not yet torn down.
func (b *Backend) Devices() []*Device {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.liveLocked()
}

func (b *Backend) forget(d *Device) {
	b.mu.Lock()
	delete(b.devices, d)
	b.mu.Unlock()
}

// Add offers share to the guest as a new 9pfs device: it writes the
// backend and frontend nodes, linked to each other, in one xenstore
// transaction (the frontend's owned by the guest and readable by the
// backend, the backend's the other way round), with the backend already
// in InitWait and its limits published, then follows the frontend. The
// device ID is the lowest unused one, so the first share added gets 0.
//
// The domain may be paused: a guest kernel probes the device when it
// boots (or loads its 9pnet_xen module). Add does not wait for the guest;
// WaitConnected does.
func (b *Backend) Add(ctx context.Context, share Share) (*Device, error) {
	if err := checkTag(share.Tag); err != nil {
		return nil, err
	}
	if share.Handler == nil {
		return nil, errors.New("xen9pfs: Share.Handler is nil")
	}
	b.mu.Lock()
	switch {
	case b.closed:
		b.mu.Unlock()
		return nil, fmt.Errorf("xen9pfs: add %q: %w", share.Tag, ErrClosed)
	case b.gone:
		b.mu.Unlock()
		return nil, fmt.Errorf("xen9pfs: add %q: %w", share.Tag, ErrDomainGone)
	}
	for d := range b.devices {
		if d.tag == share.Tag {
			b.mu.Unlock()
			return nil, fmt.Errorf("xen9pfs: domain %d already has a device tagged %q", b.cfg.Domain, share.Tag)
		}
	}
	// Reserve the tag while the nodes are written.
	d := newDevice(b, share)
	b.devices[d] = struct{}{}
	b.mu.Unlock()

	ok := false
	defer func() {
		if !ok {
			b.forget(d)
		}
	}()
	id, err := b.create(ctx, share)
	if err != nil {
		return nil, err
	}
	d.init(id)
	// Watch the frontend's state (which also fires when the frontend
	// directory is removed) and the backend's online node (removed or
	// set to 0 by a toolstack that wants the device gone).
	fw, err := b.cfg.Store.Watch(ctx, d.fpath+"/state", "")
	if err != nil {
		d.removeNodes()
		return nil, fmt.Errorf("xen9pfs: watch %s/state: %w", d.fpath, err)
	}
	bw, err := b.cfg.Store.Watch(ctx, d.bpath+"/online", "")
	if err != nil {
		fw.Close()
		d.removeNodes()
		return nil, fmt.Errorf("xen9pfs: watch %s/online: %w", d.bpath, err)
	}
	ok = true
	b.mu.Lock()
	d.started = true
	var stopNow error // Close or the domain's end raced with Add
	switch {
	case b.closed:
		stopNow = ErrClosed
	case b.gone:
		stopNow = ErrDomainGone
	}
	b.mu.Unlock()
	go d.run(fw, bw)
	if stopNow != nil {
		d.stop(stopNow)
	}
	log.G(d.ctx).Debug("xen9pfs: device added")
	return d, nil
}

// create writes the device's nodes and returns its device ID.
func (b *Backend) create(ctx context.Context, share Share) (uint32, error) {
	cfg := &b.cfg
	dom := strconv.FormatUint(uint64(cfg.Domain), 10)
	back := strconv.FormatUint(uint64(cfg.BackendDomain), 10)
	var id uint32
	err := cfg.Store.Transaction(ctx, func(tx *xenstore.Tx) error {
		var err error
		if id, err = b.freeID(ctx, tx); err != nil {
			return err
		}
		sid := strconv.FormatUint(uint64(id), 10)
		fpath, bpath := b.fbase+"/"+sid, b.bbase+"/"+sid
		// Children created below inherit their directory's permissions.
		dirs := []struct {
			path  string
			perms []xenstore.Permission
		}{
			{fpath, []xenstore.Permission{{Domain: cfg.Domain, Access: xenstore.AccessNone}, {Domain: cfg.BackendDomain, Access: xenstore.AccessRead}}},
			{bpath, []xenstore.Permission{{Domain: cfg.BackendDomain, Access: xenstore.AccessNone}, {Domain: cfg.Domain, Access: xenstore.AccessRead}}},
		}
		for _, dir := range dirs {
			if err := tx.Mkdir(ctx, dir.path); err != nil {
				return err
			}
			if err := tx.SetPermissions(ctx, dir.path, dir.perms); err != nil {
				return err
			}
		}
		nodes := []struct{ path, value string }{
			{fpath + "/backend", bpath},
			{fpath + "/backend-id", back},
			{fpath + "/tag", share.Tag},
			{fpath + "/state", strconv.Itoa(int(StateInitialising))},
			{bpath + "/frontend", fpath},
			{bpath + "/frontend-id", dom},
			{bpath + "/online", "1"},
			{bpath + "/versions", protocolVersion},
			{bpath + "/max-rings", strconv.Itoa(cfg.MaxRings)},
			{bpath + "/max-ring-page-order", strconv.Itoa(cfg.MaxRingPageOrder)},
			{bpath + "/tag", share.Tag},
			{bpath + "/security_model", "none"},
			// We are toolstack and backend at once: the limits above
			// are written with the state, so a frontend can never see
			// InitWait without them.
			{bpath + "/state", strconv.Itoa(int(StateInitWait))},
		}
		if share.Path != "" {
			nodes = append(nodes, struct{ path, value string }{bpath + "/path", share.Path})
		}
		for _, n := range nodes {
			if err := tx.Write(ctx, n.path, []byte(n.value)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("xen9pfs: create device %q for domain %d: %w", share.Tag, cfg.Domain, err)
	}
	return id, nil
}

// freeID returns the lowest device ID used neither by a frontend nor by a
// backend node of the domain.
func (b *Backend) freeID(ctx context.Context, tx *xenstore.Tx) (uint32, error) {
	used := make(map[uint64]bool)
	for _, dir := range []string{b.fbase, b.bbase} {
		names, err := tx.Directory(ctx, dir)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return 0, err
		}
		for _, n := range names {
			if v, err := strconv.ParseUint(n, 10, 32); err == nil {
				used[v] = true
			}
		}
	}
	for id := uint64(0); ; id++ {
		if !used[id] {
			return uint32(id), nil
		}
	}
}

// WaitConnected waits until every device added so far is connected (see
// Device.WaitConnected); the errors of those that are not are joined.
func (b *Backend) WaitConnected(ctx context.Context) error {
	var errs []error
	for _, d := range b.Devices() {
		if err := d.WaitConnected(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Close tears down every device (see Device.Close) and stops watching the
// domain. Later Adds fail. It returns the devices' cleanup errors.
func (b *Backend) Close() error {
	b.mu.Lock()
	first := !b.closed
	b.closed = true
	devs := b.liveLocked()
	b.mu.Unlock()
	var errs []error
	for _, d := range devs {
		if err := d.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	if first {
		if err := b.watch.Close(); err != nil {
			errs = append(errs, err)
		}
		<-b.watchDone
	}
	return errors.Join(errs...)
}

// RemoveAll removes every 9pfs frontend and backend node of domain domid
// served from domain backend: what a Backend left behind if its process
// died. Use it only when no Backend serves the domain.
func RemoveAll(ctx context.Context, st Store, backend, domid uint32) error {
	dom := strconv.FormatUint(uint64(domid), 10)
	paths := []string{
		"/local/domain/" + dom + "/device/" + DeviceType,
		"/local/domain/" + strconv.FormatUint(uint64(backend), 10) + "/backend/" + DeviceType + "/" + dom,
		"/local/domain/" + dom + "/error/device/" + DeviceType,
	}
	return st.Transaction(ctx, func(tx *xenstore.Tx) error {
		for _, p := range paths {
			if err := tx.Rm(ctx, p); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
		return nil
	})
}
