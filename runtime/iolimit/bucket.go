package iolimit

import (
	"math/bits"
	"time"
)

const nsPerSec = uint64(time.Second)

// maxDelay caps one wait; the waiter then recomputes. It only matters for
// absurd debts at tiny rates, where the exact delay would not fit in a
// time.Duration.
const maxDelay = time.Hour

// bucket is one token bucket in "ticket" form. supply counts every token the
// bucket has ever made available, demand every token ever taken; an operation
// that took tokens up to ticket t may proceed once supply >= t. Tokens in the
// bucket are supply-demand, negative while callers wait (debt). Keeping
// cumulative counters instead of a signed level makes a rate change simple:
// supply keeps growing from where it is, at the new rate, and every waiter's
// ticket stays valid.
//
// All fields are guarded by the owning Limiter's mu.
type bucket struct {
	rate   uint64 // tokens per second; 0 means unlimited
	burst  uint64 // most tokens the bucket holds: one second of rate
	supply uint64
	frac   uint64 // token-nanoseconds accrued beyond supply, < nsPerSec
	demand uint64
	last   time.Time
}

// setRate changes the rate at now. Tokens accrued until now count at the old
// rate; a bucket coming back from unlimited starts full.
func (b *bucket) setRate(rate uint64, now time.Time) {
	if rate == b.rate {
		return
	}
	b.advance(now)
	wasUnlimited := b.rate == 0
	b.rate, b.burst = rate, rate
	switch {
	case rate == 0:
		// Unlimited: forgive any debt, so every outstanding ticket is
		// ready, and stop accruing.
		if b.supply < b.demand {
			b.supply = b.demand
		}
		b.frac = 0
	case wasUnlimited:
		b.supply, b.frac, b.last = b.demand+b.burst, 0, now
	default:
		if b.supply > b.demand && b.supply-b.demand > b.burst {
			b.supply, b.frac = b.demand+b.burst, 0
		}
	}
}

// advance accrues tokens from b.last to now, up to a full bucket.
func (b *bucket) advance(now time.Time) {
	if b.rate == 0 {
		return
	}
	dt := now.Sub(b.last)
	if dt <= 0 {
		return
	}
	b.last = now
	full := b.demand + b.burst
	if b.supply >= full {
		b.frac = 0
		return
	}
	needed := full - b.supply
	// accrued = rate*dt + frac token-nanoseconds; compare with needed*1e9
	// in 128 bits.
	hi, lo := bits.Mul64(b.rate, uint64(dt))
	var carry uint64
	lo, carry = bits.Add64(lo, b.frac, 0)
	hi += carry
	nhi, nlo := bits.Mul64(needed, nsPerSec)
	if hi > nhi || (hi == nhi && lo >= nlo) {
		b.supply, b.frac = full, 0
		return
	}
	// accrued < needed*1e9, so the quotient fits in 64 bits (hi < 1e9).
	q, r := bits.Div64(hi, lo, nsPerSec)
	b.supply += q
	b.frac = r
}

// take reserves n tokens and returns the ticket the caller waits for.
func (b *bucket) take(n uint64) uint64 {
	if b.rate == 0 {
		return 0
	}
	b.demand += n
	return b.demand
}

// delay returns how long after now the ticket becomes ready; zero if it is.
// Precondition: advance(now) was called.
func (b *bucket) delay(ticket uint64) time.Duration {
	if b.rate == 0 || b.supply >= ticket {
		return 0
	}
	// ns = ceil((ticket-supply)*1e9 - frac) / rate)
	hi, lo := bits.Mul64(ticket-b.supply, nsPerSec)
	var borrow uint64
	lo, borrow = bits.Sub64(lo, b.frac, 0)
	hi -= borrow
	if hi >= b.rate {
		return maxDelay
	}
	q, r := bits.Div64(hi, lo, b.rate)
	if r != 0 {
		q++
	}
	if q > uint64(maxDelay) {
		return maxDelay
	}
	return time.Duration(q)
}
