// Package xentest is an in-memory xen.Toolstack for unit tests. It keeps
// real state: domains with IDs, names, configs and states; Create leaves a
// domain paused, Pause and Unpause change the state, Shutdown plays a guest
// powering off or crashing, Destroy removes it; Wait returns when a domain
// shuts down or is destroyed. Calls that make no sense for a domain's state
// fail as xl would (unpausing a domain that shut down, a second domain of
// the same name).
//
// Given a xenstoretest.Server (WithXenstore), the fake also does what the
// toolstack and xenstored do there: Create writes /local/domain/<id> (owned
// by the guest, with its domid and name), Shutdown fires @releaseDomain,
// and Destroy removes the domain's directory and fires @releaseDomain. So
// code that watches xenstore itself (a vchan to the guest, for example)
// sees what it would see on Xen.
package xentest

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/runxen/runxen/runtime/xen"
	"github.com/runxen/runxen/runtime/xenstore/xenstoretest"
)

// Toolstack is the fake. Create it with New.
type Toolstack struct {
	xs *xenstoretest.Server

	mu      sync.Mutex
	next    xen.DomID
	domains map[xen.DomID]*domain
	fail    map[string]error // op -> error for its next call
	calls   []string
}

type domain struct {
	info    xen.DomainInfo
	cfg     xen.DomainConfig
	started time.Time     // when it last ran, for CPUTime
	changed chan struct{} // closed and replaced on every state change
}

var _ xen.Toolstack = (*Toolstack)(nil)

// Option configures the fake.
type Option func(*Toolstack)

// WithXenstore mirrors domains into xs (see the package doc).
func WithXenstore(xs *xenstoretest.Server) Option { return func(t *Toolstack) { t.xs = xs } }

// New returns a fake with only Domain-0 in it. Guest IDs start at 1.
func New(opts ...Option) *Toolstack {
	t := &Toolstack{
		next:    1,
		domains: make(map[xen.DomID]*domain),
		fail:    make(map[string]error),
	}
	t.domains[0] = &domain{
		info:    xen.DomainInfo{ID: 0, Name: "Domain-0", State: xen.StateRunning, MemoryMiB: 2048, VCPUs: 2},
		changed: make(chan struct{}),
	}
	for _, o := range opts {
		o(t)
	}
	return t
}

// FailNext makes the next call of op ("create", "unpause", "pause",
// "resize", "destroy", "info", "list", "wait") fail with err, without
// effect.
func (t *Toolstack) FailNext(op string, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.fail[op] = err
}

// Calls returns the operations called so far, as "op id" or "create name".
func (t *Toolstack) Calls() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return slices.Clone(t.calls)
}

// Config returns the config a domain was created with, as Resize has
// changed it since.
func (t *Toolstack) Config(id xen.DomID) (xen.DomainConfig, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	d, ok := t.domains[id]
	if !ok {
		return xen.DomainConfig{}, false
	}
	return d.cfg, true
}

// begin records a call and returns an injected failure, if any. Called
// with t.mu held.
func (t *Toolstack) begin(op, arg string) error {
	t.calls = append(t.calls, op+" "+arg)
	if err, ok := t.fail[op]; ok {
		delete(t.fail, op)
		return err
	}
	return nil
}

func (t *Toolstack) lookup(op string, id xen.DomID) (*domain, error) {
	d, ok := t.domains[id]
	if !ok {
		return nil, fmt.Errorf("%s domain %d: %w", op, id, xen.ErrNoDomain)
	}
	return d, nil
}

// setState changes a domain's state and wakes its waiters. Called with t.mu
// held.
func (t *Toolstack) setState(d *domain, s xen.State, r xen.ShutdownReason) {
	now := time.Now()
	if d.info.State == xen.StateRunning {
		d.info.CPUTime += now.Sub(d.started)
	}
	if s == xen.StateRunning {
		d.started = now
	}
	d.info.State, d.info.Reason = s, r
	close(d.changed)
	d.changed = make(chan struct{})
}

// Create validates cfg and adds a paused domain.
func (t *Toolstack) Create(ctx context.Context, cfg xen.DomainConfig) (xen.DomID, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("create domain %s: %w", cfg.Name, err)
	}
	if err := cfg.Validate(); err != nil {
		return 0, fmt.Errorf("create domain %s: %w", cfg.Name, err)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.begin("create", cfg.Name); err != nil {
		return 0, fmt.Errorf("create domain %s: %w", cfg.Name, err)
	}
	for _, d := range t.domains {
		if d.info.Name == cfg.Name {
			return 0, fmt.Errorf("create domain %s: domain %d already has that name", cfg.Name, d.info.ID)
		}
	}
	id := t.next
	t.next++
	d := &domain{
		info: xen.DomainInfo{
			ID: id, Name: cfg.Name, State: xen.StatePaused, Reason: xen.ReasonUnknown,
			MemoryMiB: uint64(cfg.MemoryMiB), VCPUs: cfg.VCPUs,
		},
		cfg:     cfg,
		changed: make(chan struct{}),
	}
	if t.xs != nil {
		dir := "/local/domain/" + strconv.Itoa(int(id))
		// As libxl does: the guest reads its directory and owns data/.
		guest := strconv.Itoa(int(id))
		for _, err := range []error{
			t.xs.Mkdir(dir),
			t.xs.SetPermissions(dir, "n0", "r"+guest),
			t.xs.Write(dir+"/domid", []byte(guest)),
			t.xs.Write(dir+"/name", []byte(cfg.Name)),
			t.xs.Mkdir(dir + "/data"),
			t.xs.SetPermissions(dir+"/data", "n"+guest),
		} {
			if err != nil {
				_ = t.xs.Rm(dir)
				return 0, fmt.Errorf("create domain %s: xenstore: %w", cfg.Name, err)
			}
		}
		t.xs.IntroduceDomain(uint32(id))
	}
	t.domains[id] = d
	return id, nil
}

// Unpause runs a paused domain.
func (t *Toolstack) Unpause(ctx context.Context, id xen.DomID) error {
	return t.transition(ctx, "unpause", id, xen.StatePaused, xen.StateRunning)
}

// Pause pauses a running domain.
func (t *Toolstack) Pause(ctx context.Context, id xen.DomID) error {
	return t.transition(ctx, "pause", id, xen.StateRunning, xen.StatePaused)
}

func (t *Toolstack) transition(ctx context.Context, op string, id xen.DomID, from, to xen.State) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s domain %d: %w", op, id, err)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.begin(op, strconv.Itoa(int(id))); err != nil {
		return fmt.Errorf("%s domain %d: %w", op, id, err)
	}
	d, err := t.lookup(op, id)
	if err != nil {
		return err
	}
	if id == 0 {
		return fmt.Errorf("%s domain 0: not a guest", op)
	}
	if d.info.State != from && d.info.State != to {
		return fmt.Errorf("%s domain %d: domain is %s", op, id, d.info.State)
	}
	if d.info.State != to {
		t.setState(d, to, xen.ReasonUnknown)
	}
	return nil
}

// Resize changes a live domain's resources as xl would: memory at once (a
// balloon driver that always obliges), vCPUs up to the domain's maximum,
// scheduling and affinity recorded (see Config).
func (t *Toolstack) Resize(ctx context.Context, id xen.DomID, r xen.Resources) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("resize domain %d: %w", id, err)
	}
	if err := r.Validate(); err != nil {
		return fmt.Errorf("resize domain %d: %w", id, err)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.begin("resize", strconv.Itoa(int(id))); err != nil {
		return fmt.Errorf("resize domain %d: %w", id, err)
	}
	d, err := t.lookup("resize", id)
	if err != nil {
		return err
	}
	if id == 0 {
		return fmt.Errorf("resize domain 0: not a guest")
	}
	if d.info.State.Exited() {
		return fmt.Errorf("resize domain %d: domain is %s", id, d.info.State)
	}
	maxV := d.cfg.MaxVCPUs
	if maxV == 0 {
		maxV = d.cfg.VCPUs
	}
	if r.VCPUs > maxV {
		return fmt.Errorf("resize domain %d: %d vCPUs asked, the domain was created with at most %d", id, r.VCPUs, maxV)
	}
	if r.MemoryMiB > 0 {
		d.info.MemoryMiB = uint64(r.MemoryMiB)
		d.cfg.MemoryMiB = r.MemoryMiB
	}
	if r.VCPUs > 0 {
		d.info.VCPUs = r.VCPUs
		d.cfg.VCPUs = r.VCPUs
	}
	if r.CPUWeight > 0 {
		d.cfg.CPUWeight = r.CPUWeight
	}
	if r.CPUCap != nil {
		d.cfg.CPUCap = *r.CPUCap
	}
	if r.CPUAffinity != "" {
		d.cfg.CPUAffinity = r.CPUAffinity
	}
	return nil
}

// Shutdown plays the guest shutting itself down for reason (power off,
// crash, ...): the domain stays, shut down, until destroyed.
func (t *Toolstack) Shutdown(id xen.DomID, reason xen.ShutdownReason) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	d, err := t.lookup("shutdown", id)
	if err != nil {
		return err
	}
	if d.info.State.Exited() {
		return fmt.Errorf("shutdown domain %d: domain is %s", id, d.info.State)
	}
	t.setState(d, xen.StateShutdown, reason)
	if t.xs != nil {
		t.xs.ReleaseDomain(uint32(id))
	}
	return nil
}

// Destroy removes a domain, whatever its state.
func (t *Toolstack) Destroy(ctx context.Context, id xen.DomID) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("destroy domain %d: %w", id, err)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.begin("destroy", strconv.Itoa(int(id))); err != nil {
		return fmt.Errorf("destroy domain %d: %w", id, err)
	}
	d, err := t.lookup("destroy", id)
	if err != nil {
		return err
	}
	if id == 0 {
		return fmt.Errorf("destroy domain 0: not a guest")
	}
	t.setState(d, xen.StateGone, xen.ReasonUnknown)
	delete(t.domains, id)
	if t.xs != nil {
		_ = t.xs.Rm("/local/domain/" + strconv.Itoa(int(id)))
		t.xs.ReleaseDomain(uint32(id))
	}
	return nil
}

func (t *Toolstack) snapshot(d *domain) xen.DomainInfo {
	info := d.info
	if info.State == xen.StateRunning && info.ID != 0 {
		info.CPUTime += time.Since(d.started)
	}
	return info
}

// Info describes a domain.
func (t *Toolstack) Info(ctx context.Context, id xen.DomID) (xen.DomainInfo, error) {
	if err := ctx.Err(); err != nil {
		return xen.DomainInfo{}, fmt.Errorf("domain %d info: %w", id, err)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.begin("info", strconv.Itoa(int(id))); err != nil {
		return xen.DomainInfo{}, fmt.Errorf("domain %d info: %w", id, err)
	}
	d, err := t.lookup("info", id)
	if err != nil {
		return xen.DomainInfo{}, err
	}
	return t.snapshot(d), nil
}

// List describes every domain, by ID.
func (t *Toolstack) List(ctx context.Context) ([]xen.DomainInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("list domains: %w", err)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.begin("list", ""); err != nil {
		return nil, fmt.Errorf("list domains: %w", err)
	}
	var out []xen.DomainInfo
	for _, d := range t.domains {
		out = append(out, t.snapshot(d))
	}
	slices.SortFunc(out, func(a, b xen.DomainInfo) int { return int(a.ID) - int(b.ID) })
	return out, nil
}

// Wait returns once the domain has shut down or is gone.
func (t *Toolstack) Wait(ctx context.Context, id xen.DomID) (xen.DomainInfo, error) {
	t.mu.Lock()
	if err := t.begin("wait", strconv.Itoa(int(id))); err != nil {
		t.mu.Unlock()
		return xen.DomainInfo{}, fmt.Errorf("wait for domain %d: %w", id, err)
	}
	t.mu.Unlock()
	for {
		t.mu.Lock()
		d, ok := t.domains[id]
		if !ok {
			t.mu.Unlock()
			return xen.DomainInfo{ID: id, State: xen.StateGone, Reason: xen.ReasonUnknown}, nil
		}
		if d.info.State.Exited() {
			info := t.snapshot(d)
			t.mu.Unlock()
			return info, nil
		}
		changed := d.changed
		t.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			return xen.DomainInfo{}, fmt.Errorf("wait for domain %d: %w", id, ctx.Err())
		}
	}
}
