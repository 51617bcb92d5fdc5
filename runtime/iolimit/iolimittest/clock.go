// Package iolimittest provides a fake iolimit.Clock, so tests of rate limits
// advance time explicitly instead of sleeping and never depend on how fast
// the machine is.
package iolimittest

import (
	"sync"
	"time"

	"github.com/runxen/runxen/runtime/iolimit"
)

// Clock is a manual clock. Timers fire only when Advance moves the time to or
// past their deadline.
type Clock struct {
	mu      sync.Mutex
	now     time.Time
	timers  map[*timer]struct{} // pending timers; guarded by mu
	created int                 // timers ever created; guarded by mu
	cond    *sync.Cond          // signalled when timers change; uses mu
}

var _ iolimit.Clock = (*Clock)(nil)

// NewClock returns a clock set to an arbitrary fixed time.
func NewClock() *Clock {
	c := &Clock{
		now:    time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC),
		timers: make(map[*timer]struct{}),
	}
	c.cond = sync.NewCond(&c.mu)
	return c
}

// Now returns the fake time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// NewTimer returns a timer that fires once the clock reaches now+d.
func (c *Clock) NewTimer(d time.Duration) iolimit.Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &timer{c: c, ch: make(chan time.Time, 1), deadline: c.now.Add(d)}
	c.created++
	c.cond.Broadcast()
	if d <= 0 {
		t.ch <- c.now
		return t
	}
	c.timers[t] = struct{}{}
	c.cond.Broadcast()
	return t
}

// Advance moves the clock forward by d and fires every timer now due.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	for t := range c.timers {
		if !t.deadline.After(c.now) {
			delete(c.timers, t)
			t.ch <- c.now
		}
	}
	c.cond.Broadcast()
}

// Pending returns the number of timers not yet fired or stopped.
func (c *Clock) Pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}

// BlockUntil waits until at least n timers are pending: the way a test knows
// its goroutines are now waiting on this clock. It is a synchronisation
// point, not a sleep; the test binary's timeout bounds it.
func (c *Clock) BlockUntil(n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.timers) < n {
		c.cond.Wait()
	}
}

// BlockUntilCreated waits until n timers have been created in all: after a
// change that makes a waiter re-arm, the way to know it has.
func (c *Clock) BlockUntilCreated(n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for c.created < n {
		c.cond.Wait()
	}
}

// NextDeadline returns how far ahead of now the earliest pending timer is,
// and false if none is pending.
func (c *Clock) NextDeadline() (time.Duration, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var best time.Duration
	found := false
	for t := range c.timers {
		if d := t.deadline.Sub(c.now); !found || d < best {
			best, found = d, true
		}
	}
	return best, found
}

type timer struct {
	c        *Clock
	ch       chan time.Time
	deadline time.Time
}

func (t *timer) C() <-chan time.Time { return t.ch }

func (t *timer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	_, pending := t.c.timers[t]
	delete(t.c.timers, t)
	t.c.cond.Broadcast()
	return pending
}
