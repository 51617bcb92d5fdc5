package vchan

import (
	"sync"
	"time"
)

// deadline is a settable deadline whose channel closes when it passes; a
// waiter keeps the channel it got, and moving the deadline closes that same
// channel at the new time.
type deadline struct {
	mu    sync.Mutex
	c     chan struct{}
	timer *time.Timer
	gen   uint64 // invalidates the callbacks of stopped timers
}

func (d *deadline) init() { d.c = make(chan struct{}) }

func isClosed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// set moves the deadline; the zero time removes it.
func (d *deadline) set(t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.gen++
	if d.timer != nil {
		d.timer.Stop()
		d.timer = nil
	}
	closed := isClosed(d.c)
	if t.IsZero() {
		if closed {
			d.c = make(chan struct{})
		}
		return
	}
	dur := time.Until(t)
	if dur <= 0 {
		if !closed {
			close(d.c)
		}
		return
	}
	if closed {
		d.c = make(chan struct{})
	}
	gen, c := d.gen, d.c
	d.timer = time.AfterFunc(dur, func() {
		d.mu.Lock()
		defer d.mu.Unlock()
		if d.gen == gen && !isClosed(c) {
			close(c)
		}
	})
}

// wait returns a channel that is closed once the deadline passes.
func (d *deadline) wait() chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.c
}

func (d *deadline) stop() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.gen++
	if d.timer != nil {
		d.timer.Stop()
		d.timer = nil
	}
}
