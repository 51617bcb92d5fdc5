package iolimit

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// Limits are the rates of one share. Zero means unlimited.
type Limits struct {
	ReadBytesPerSec  uint64
	WriteBytesPerSec uint64
	ReadOpsPerSec    uint64
	WriteOpsPerSec   uint64
}

// Unlimited reports whether no limit is set.
func (l Limits) Unlimited() bool { return l == Limits{} }

// Stats are cumulative counters of what went through a Limiter.
type Stats struct {
	ReadBytes  uint64
	WriteBytes uint64
	ReadOps    uint64
	WriteOps   uint64
	// Throttled is the total time callers spent waiting for tokens.
	Throttled time.Duration
}

// Option configures a Limiter.
type Option func(*Limiter)

// WithClock replaces the real clock (for tests).
func WithClock(c Clock) Option { return func(l *Limiter) { l.clock = c } }

// Limiter throttles one share. A nil *Limiter is valid and unlimited, so
// callers need not special-case "no limits configured".
type Limiter struct {
	clock Clock

	mu         sync.Mutex
	limits     Limits        // guarded by mu
	readBytes  bucket        // guarded by mu
	writeBytes bucket        // guarded by mu
	readOps    bucket        // guarded by mu
	writeOps   bucket        // guarded by mu
	changed    chan struct{} // closed (and replaced) by SetLimits; guarded by mu

	// unlimited mirrors limits.Unlimited() for the lock-free fast path.
	unlimited atomic.Bool

	stats struct {
		readBytes, writeBytes, readOps, writeOps atomic.Uint64
		throttled                                atomic.Int64
	}
}

// New returns a Limiter with the given limits.
func New(limits Limits, opts ...Option) *Limiter {
	l := &Limiter{clock: realClock{}, changed: make(chan struct{})}
	for _, o := range opts {
		o(l)
	}
	l.unlimited.Store(true)
	l.SetLimits(limits)
	return l
}

// SetLimits replaces the limits with immediate effect: callers waiting under
// the old limits recompute their wait against the new ones.
func (l *Limiter) SetLimits(limits Limits) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.clock.Now()
	l.readBytes.setRate(limits.ReadBytesPerSec, now)
	l.writeBytes.setRate(limits.WriteBytesPerSec, now)
	l.readOps.setRate(limits.ReadOpsPerSec, now)
	l.writeOps.setRate(limits.WriteOpsPerSec, now)
	l.limits = limits
	l.unlimited.Store(limits.Unlimited())
	close(l.changed)
	l.changed = make(chan struct{})
}

// Limits returns the current limits.
func (l *Limiter) Limits() Limits {
	if l == nil {
		return Limits{}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.limits
}

// Stats returns the counters so far.
func (l *Limiter) Stats() Stats {
	if l == nil {
		return Stats{}
	}
	return Stats{
		ReadBytes:  l.stats.readBytes.Load(),
		WriteBytes: l.stats.writeBytes.Load(),
		ReadOps:    l.stats.readOps.Load(),
		WriteOps:   l.stats.writeOps.Load(),
		Throttled:  time.Duration(l.stats.throttled.Load()),
	}
}

// WaitRead accounts one read operation moving n bytes (0 for metadata) and
// waits until the limits allow it. It returns ctx.Err() if ctx ends first.
func (l *Limiter) WaitRead(ctx context.Context, n int) error {
	if l == nil {
		return nil
	}
	l.stats.readOps.Add(1)
	l.stats.readBytes.Add(uint64(max(n, 0)))
	return l.wait(ctx, &l.readOps, &l.readBytes, n)
}

// WaitWrite accounts one write operation moving n bytes (0 for metadata
// changes) and waits until the limits allow it.
func (l *Limiter) WaitWrite(ctx context.Context, n int) error {
	if l == nil {
		return nil
	}
	l.stats.writeOps.Add(1)
	l.stats.writeBytes.Add(uint64(max(n, 0)))
	return l.wait(ctx, &l.writeOps, &l.writeBytes, n)
}

func (l *Limiter) wait(ctx context.Context, ops, bytes *bucket, n int) error {
	if l.unlimited.Load() {
		// A racing SetLimits may have just set a limit; letting this one
		// operation through unaccounted is harmless.
		return nil
	}
	l.mu.Lock()
	now := l.clock.Now()
	ops.advance(now)
	bytes.advance(now)
	opsTicket := ops.take(1)
	bytesTicket := bytes.take(uint64(max(n, 0)))
	l.mu.Unlock()

	var start time.Time
	for {
		l.mu.Lock()
		now := l.clock.Now()
		ops.advance(now)
		bytes.advance(now)
		d := max(ops.delay(opsTicket), bytes.delay(bytesTicket))
		changed := l.changed
		l.mu.Unlock()
		if d <= 0 {
			if !start.IsZero() {
				l.stats.throttled.Add(int64(now.Sub(start)))
			}
			return nil
		}
		if start.IsZero() {
			start = now
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		t := l.clock.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			l.stats.throttled.Add(int64(l.clock.Now().Sub(start)))
			return ctx.Err()
		case <-changed:
			t.Stop()
		case <-t.C():
		}
	}
}
