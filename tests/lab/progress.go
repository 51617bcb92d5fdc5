package lab

import (
	"fmt"
	"io"
	"sync"
	"time"
)

// progress prints step names with their elapsed time, and a heartbeat while a long step runs, so
// that a cold build under emulation never looks like minutes of silence.
type progress struct {
	mu    sync.Mutex
	w     io.Writer
	start time.Time
}

func newProgress(w io.Writer) *progress {
	if w == nil {
		w = io.Discard
	}
	return &progress{w: w, start: time.Now()}
}

func (p *progress) printf(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, "[lab %6.1fs] %s\n", time.Since(p.start).Seconds(), fmt.Sprintf(format, args...))
}

// step runs fn as a named step, printing its start, a heartbeat every interval, and its end with
// the elapsed time. status, if set, adds a short "what is happening now" to each heartbeat.
func (p *progress) step(name string, fn func(status func(string)) error) (time.Duration, error) {
	const interval = 15 * time.Second
	p.printf("%s ...", name)
	t0 := time.Now()
	var mu sync.Mutex
	last := ""
	setStatus := func(s string) { mu.Lock(); last = s; mu.Unlock() }
	done := make(chan struct{})
	go func() {
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				mu.Lock()
				s := last
				mu.Unlock()
				if s != "" {
					s = ": " + s
				}
				p.printf("%s still running (%s)%s", name, time.Since(t0).Round(time.Second), s)
			}
		}
	}()
	err := fn(setStatus)
	close(done)
	d := time.Since(t0)
	if err != nil {
		p.printf("%s failed after %s: %v", name, d.Round(100*time.Millisecond), err)
		return d, err
	}
	p.printf("%s done in %s", name, d.Round(100*time.Millisecond))
	return d, nil
}
