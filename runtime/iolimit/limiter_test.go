package iolimit_test

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/runxen/runxen/runtime/iolimit"
	"github.com/runxen/runxen/runtime/iolimit/iolimittest"
)

// waiter runs fn in a goroutine and exposes its result.
type waiter struct{ done chan error }

func start(fn func() error) *waiter {
	w := &waiter{done: make(chan error, 1)}
	go func() { w.done <- fn() }()
	return w
}

// finished reports whether the waiter has returned. With a fake clock a
// waiter can only return after Advance or SetLimits, so a false answer right
// after such a step is not a timing guess: nothing could have released it.
func (w *waiter) finished() bool {
	select {
	case err := <-w.done:
		w.done <- err
		return true
	default:
		return false
	}
}

func (w *waiter) result(t *testing.T) error {
	t.Helper()
	return <-w.done
}

func newLimiter(l iolimit.Limits) (*iolimit.Limiter, *iolimittest.Clock) {
	clk := iolimittest.NewClock()
	return iolimit.New(l, iolimit.WithClock(clk)), clk
}

func TestNilAndUnlimited(t *testing.T) {
	ctx := context.Background()
	var nilLimiter *iolimit.Limiter
	if err := nilLimiter.WaitRead(ctx, 1<<30); err != nil {
		t.Fatal(err)
	}
	nilLimiter.SetLimits(iolimit.Limits{ReadOpsPerSec: 1}) // must not panic
	if got := nilLimiter.Stats(); got != (iolimit.Stats{}) {
		t.Fatalf("nil stats = %+v", got)
	}

	l, clk := newLimiter(iolimit.Limits{})
	for range 1000 {
		if err := l.WaitWrite(ctx, 1<<20); err != nil {
			t.Fatal(err)
		}
	}
	if clk.Pending() != 0 {
		t.Fatal("unlimited limiter armed a timer")
	}
	if s := l.Stats(); s.WriteOps != 1000 || s.WriteBytes != 1000<<20 || s.Throttled != 0 {
		t.Fatalf("stats = %+v", s)
	}
}

func TestOpsBurstThenRate(t *testing.T) {
	ctx := context.Background()
	l, clk := newLimiter(iolimit.Limits{ReadOpsPerSec: 10})
	for i := range 10 {
		if err := l.WaitRead(ctx, 0); err != nil {
			t.Fatal(err)
		}
		if clk.Pending() != 0 {
			t.Fatalf("op %d within the burst waited", i)
		}
	}
	w := start(func() error { return l.WaitRead(ctx, 0) })
	clk.BlockUntil(1)
	if d, _ := clk.NextDeadline(); d != 100*time.Millisecond {
		t.Fatalf("11th op waits %v, want 100ms", d)
	}
	clk.Advance(99 * time.Millisecond)
	if w.finished() {
		t.Fatal("released before its tokens accrued")
	}
	clk.Advance(time.Millisecond)
	if err := w.result(t); err != nil {
		t.Fatal(err)
	}
	if s := l.Stats(); s.Throttled != 100*time.Millisecond || s.ReadOps != 11 {
		t.Fatalf("stats = %+v", s)
	}
	// Writes are not limited by read limits.
	if err := l.WaitWrite(ctx, 1<<20); err != nil || clk.Pending() != 0 {
		t.Fatal("write throttled by a read limit")
	}
}

func TestBytesDebtLargerThanBurst(t *testing.T) {
	ctx := context.Background()
	l, clk := newLimiter(iolimit.Limits{WriteBytesPerSec: 1000})
	// 3000 bytes against a full 1000-byte bucket: 2 s of debt, paid before
	// the write proceeds.
	w := start(func() error { return l.WaitWrite(ctx, 3000) })
	clk.BlockUntil(1)
	if d, _ := clk.NextDeadline(); d != 2*time.Second {
		t.Fatalf("wait = %v, want 2s", d)
	}
	clk.Advance(2 * time.Second)
	if err := w.result(t); err != nil {
		t.Fatal(err)
	}
	// The bucket is now empty: a 1-byte write waits 1 ms.
	w = start(func() error { return l.WaitWrite(ctx, 1) })
	clk.BlockUntil(1)
	if d, _ := clk.NextDeadline(); d != time.Millisecond {
		t.Fatalf("wait = %v, want 1ms", d)
	}
	clk.Advance(time.Millisecond)
	if err := w.result(t); err != nil {
		t.Fatal(err)
	}
}

func TestRefillCapsAtBurst(t *testing.T) {
	ctx := context.Background()
	l, clk := newLimiter(iolimit.Limits{ReadBytesPerSec: 100})
	if err := l.WaitRead(ctx, 100); err != nil { // empties the bucket
		t.Fatal(err)
	}
	clk.Advance(time.Hour) // refills to the burst, not to an hour's worth
	if err := l.WaitRead(ctx, 100); err != nil || clk.Pending() != 0 {
		t.Fatal("a full bucket should allow one burst at once")
	}
	w := start(func() error { return l.WaitRead(ctx, 50) })
	clk.BlockUntil(1)
	if d, _ := clk.NextDeadline(); d != 500*time.Millisecond {
		t.Fatalf("wait = %v, want 500ms", d)
	}
	clk.Advance(500 * time.Millisecond)
	if err := w.result(t); err != nil {
		t.Fatal(err)
	}
}

func TestSetLimitsTakesEffectForWaiters(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		next iolimit.Limits
		wait time.Duration // the waiter's new wait; 0: released at once
	}{
		// 10000 bytes of debt at 1 GiB/s: ceil(1e13/2^30) ns.
		{"raised", iolimit.Limits{WriteBytesPerSec: 1 << 30}, 9314 * time.Nanosecond},
		{"unlimited", iolimit.Limits{}, 0},
		{"lowered", iolimit.Limits{WriteBytesPerSec: 10}, 1000 * time.Second},
		{"other limit", iolimit.Limits{WriteBytesPerSec: 100, ReadOpsPerSec: 5}, 100 * time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l, clk := newLimiter(iolimit.Limits{WriteBytesPerSec: 100})
			// 10100 bytes against a 100-byte bucket: 100 s of debt.
			w := start(func() error { return l.WaitWrite(ctx, 10100) })
			clk.BlockUntilCreated(1)
			if d, _ := clk.NextDeadline(); d != 100*time.Second {
				t.Fatalf("initial wait = %v, want 100s", d)
			}
			l.SetLimits(tc.next)
			if got := l.Limits(); got != tc.next {
				t.Fatalf("Limits() = %+v", got)
			}
			if tc.wait == 0 {
				if err := w.result(t); err != nil {
					t.Fatal(err)
				}
				return
			}
			clk.BlockUntilCreated(2) // re-armed under the new limits
			if d, _ := clk.NextDeadline(); d != tc.wait {
				t.Fatalf("wait after SetLimits = %v, want %v", d, tc.wait)
			}
			clk.Advance(tc.wait - 1)
			if w.finished() {
				t.Fatal("released early")
			}
			clk.Advance(1)
			if err := w.result(t); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestContextCancel(t *testing.T) {
	l, clk := newLimiter(iolimit.Limits{ReadOpsPerSec: 1})
	ctx, cancel := context.WithCancel(context.Background())
	if err := l.WaitRead(ctx, 0); err != nil {
		t.Fatal(err)
	}
	w := start(func() error { return l.WaitRead(ctx, 0) })
	clk.BlockUntil(1)
	cancel()
	if err := w.result(t); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if clk.Pending() != 0 {
		t.Fatal("cancelled waiter left its timer armed")
	}
}

func TestArrivalOrder(t *testing.T) {
	ctx := context.Background()
	l, clk := newLimiter(iolimit.Limits{ReadOpsPerSec: 1})
	if err := l.WaitRead(ctx, 0); err != nil {
		t.Fatal(err)
	}
	first := start(func() error { return l.WaitRead(ctx, 0) })
	clk.BlockUntil(1)
	second := start(func() error { return l.WaitRead(ctx, 0) })
	clk.BlockUntil(2)
	clk.Advance(time.Second)
	if err := first.result(t); err != nil {
		t.Fatal(err)
	}
	if second.finished() {
		t.Fatal("second waiter released with the first one's tokens")
	}
	clk.Advance(time.Second)
	if err := second.result(t); err != nil {
		t.Fatal(err)
	}
}

// TestConcurrentExactTotal drives many goroutines through a byte limit and
// checks the fake time needed is exactly what the rate implies.
func TestConcurrentExactTotal(t *testing.T) {
	ctx := context.Background()
	const rate, workers, each = 1000, 16, 250
	l, clk := newLimiter(iolimit.Limits{ReadBytesPerSec: rate})
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := l.WaitRead(ctx, each); err != nil {
				t.Error(err)
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	// 16*250 = 4000 bytes: 1000 from the burst, 3000 at 1000 B/s.
	var elapsed time.Duration
	for {
		select {
		case <-done:
			if elapsed != 3*time.Second {
				t.Fatalf("fake time used = %v, want 3s", elapsed)
			}
			return
		default:
		}
		d, ok := clk.NextDeadline()
		if !ok {
			runtime.Gosched()
			continue
		}
		clk.Advance(d)
		elapsed += d
	}
}

func TestLargeRatesAndLongRuns(t *testing.T) {
	ctx := context.Background()
	l, clk := newLimiter(iolimit.Limits{ReadBytesPerSec: 1 << 40})
	for range 1000 {
		if err := l.WaitRead(ctx, 1<<30); err != nil {
			t.Fatal(err)
		}
		clk.Advance(24 * time.Hour)
	}
	if clk.Pending() != 0 {
		t.Fatal("waited although the rate covers every read")
	}
	// A tiny rate with a huge debt caps the single wait and stays correct.
	l.SetLimits(iolimit.Limits{ReadBytesPerSec: 1})
	w := start(func() error { return l.WaitRead(ctx, 1<<40) })
	clk.BlockUntil(1)
	if d, _ := clk.NextDeadline(); d != time.Hour {
		t.Fatalf("capped wait = %v, want 1h", d)
	}
	l.SetLimits(iolimit.Limits{})
	if err := w.result(t); err != nil {
		t.Fatal(err)
	}
}
