package xenstore

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/containerd/log"
)

// Transaction retry policy: bounded attempts with jittered exponential
// backoff between them, so writers contending on the same nodes spread out.
const (
	// MaxTransactionAttempts is how many times Transaction runs its
	// function before giving up on a conflict that keeps recurring.
	MaxTransactionAttempts = 16
	txBackoffMin           = time.Millisecond
	txBackoffMax           = 128 * time.Millisecond
)

// Tx is an open xenstore transaction, valid only inside the function passed
// to Client.Transaction. Reads see a snapshot taken at the start plus the
// transaction's own writes; writes become visible to others, and fire
// watches, only when the transaction commits. Its methods are safe for
// concurrent use but fail with ErrTxDone once the function has returned.
type Tx struct {
	c    *Client
	id   uint32
	done atomic.Bool
}

// ID is the transaction id xenstored assigned (for logs).
func (tx *Tx) ID() uint32 { return tx.id }

func (tx *Tx) check(op, path string) error {
	if tx.done.Load() {
		return fmt.Errorf("xenstore %s %s in transaction %d: %w", op, path, tx.id, ErrTxDone)
	}
	return nil
}

// Read is Client.Read inside the transaction.
func (tx *Tx) Read(ctx context.Context, path string) ([]byte, error) {
	if err := tx.check("read", path); err != nil {
		return nil, err
	}
	return tx.c.read(ctx, tx.id, path)
}

// Write is Client.Write inside the transaction.
func (tx *Tx) Write(ctx context.Context, path string, value []byte) error {
	if err := tx.check("write", path); err != nil {
		return err
	}
	return tx.c.write(ctx, tx.id, path, value)
}

// Mkdir is Client.Mkdir inside the transaction.
func (tx *Tx) Mkdir(ctx context.Context, path string) error {
	if err := tx.check("mkdir", path); err != nil {
		return err
	}
	return tx.c.mkdir(ctx, tx.id, path)
}

// Rm is Client.Rm inside the transaction.
func (tx *Tx) Rm(ctx context.Context, path string) error {
	if err := tx.check("rm", path); err != nil {
		return err
	}
	return tx.c.rm(ctx, tx.id, path)
}

// Directory is Client.Directory inside the transaction.
func (tx *Tx) Directory(ctx context.Context, path string) ([]string, error) {
	if err := tx.check("directory", path); err != nil {
		return nil, err
	}
	return tx.c.directory(ctx, tx.id, path)
}

// GetPermissions is Client.GetPermissions inside the transaction.
func (tx *Tx) GetPermissions(ctx context.Context, path string) ([]Permission, error) {
	if err := tx.check("get_perms", path); err != nil {
		return nil, err
	}
	return tx.c.getPerms(ctx, tx.id, path)
}

// SetPermissions is Client.SetPermissions inside the transaction.
func (tx *Tx) SetPermissions(ctx context.Context, path string, perms []Permission) error {
	if err := tx.check("set_perms", path); err != nil {
		return err
	}
	return tx.c.setPerms(ctx, tx.id, path, perms)
}

// Transaction runs fn inside a xenstore transaction and commits it.
//
// If fn returns an error (or panics, or calls runtime.Goexit) the
// transaction is aborted and fn's error returned unchanged. If the commit
// fails with EAGAIN, because another writer changed something the
// transaction touched, the whole of fn is run again in a fresh transaction,
// up to MaxTransactionAttempts times with jittered backoff; fn must
// therefore be safe to re-run and should keep no state outside the
// transaction. An error from fn wrapping ErrAgain is retried the same way,
// and so is xenstored refusing to start a transaction because the
// connection has too many open (its quota, 10 by default, is per
// connection and shared by all goroutines using the Client). Once the
// attempts are used up the last error is returned, wrapped.
//
// Cancellation: an abort is still sent (with a short timeout of its own)
// when ctx is already done. If ctx ends while the commit request is in
// flight, whether the transaction committed is unknown; the error wraps
// the context's error and says so.
func (c *Client) Transaction(ctx context.Context, fn func(tx *Tx) error) error {
	backoff := txBackoffMin
	for attempt := 1; ; attempt++ {
		retry, err := c.transactOnce(ctx, fn)
		if err == nil || !retry {
			return err
		}
		if attempt >= MaxTransactionAttempts {
			return &exhaustedError{attempts: attempt, err: err}
		}
		// Full jitter in [backoff/2, backoff).
		d := backoff/2 + rand.N(backoff/2+1)
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctxError("transaction", "", ctx.Err())
		}
		backoff = min(2*backoff, txBackoffMax)
	}
}

// transactOnce makes one attempt and reports whether a failure is worth
// another: a commit conflict (EAGAIN, or fn returning an error wrapping
// ErrAgain, unless that is a nested Transaction that already gave up), or
// TRANSACTION_START refused because the connection has too many
// transactions open (ENOSPC from C xenstored, EQUOTA from oxenstored),
// which concurrent callers on one Client cause and which clears as their
// transactions end.
func (c *Client) transactOnce(ctx context.Context, fn func(tx *Tx) error) (retry bool, err error) {
	p, _, err := c.roundTrip(ctx, "transaction_start", "", typeTransactionStart, 0, nulStrings(""), c.abortLateStart)
	if err != nil {
		var xe *Error
		quota := errors.As(err, &xe) && (xe.Errno == "ENOSPC" || xe.Errno == "EQUOTA")
		return quota, err
	}
	id, err := parseUint32(p)
	if err != nil {
		return false, err
	}
	if id == 0 {
		return false, fmt.Errorf("%w: TRANSACTION_START returned transaction id 0", ErrProtocol)
	}
	tx := &Tx{c: c, id: id}

	finished := false
	defer func() {
		if !finished { // fn panicked or called runtime.Goexit
			tx.done.Store(true)
			c.abortTx(ctx, id)
		}
	}()
	fnErr := fn(tx)
	finished = true
	tx.done.Store(true)

	if fnErr != nil {
		c.abortTx(ctx, id)
		var ex *exhaustedError
		return errors.Is(fnErr, ErrAgain) && !errors.As(fnErr, &ex), fnErr
	}
	_, _, err = c.roundTrip(ctx, "transaction_end", strconv.FormatUint(uint64(id), 10), typeTransactionEnd, id, nulStrings("T"), nil)
	if err != nil && ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		return false, fmt.Errorf("xenstore: commit of transaction %d interrupted, outcome unknown: %w", id, err)
	}
	return errors.Is(err, ErrAgain), err
}

// exhaustedError is Transaction giving up. It wraps the last attempt's
// error (so errors.Is(err, ErrAgain) still holds for a conflict), and marks
// it so an enclosing Transaction does not retry it again.
type exhaustedError struct {
	attempts int
	err      error
}

func (e *exhaustedError) Error() string {
	return fmt.Sprintf("xenstore: transaction failed %d attempts: %v", e.attempts, e.err)
}

func (e *exhaustedError) Unwrap() error { return e.err }

// abortTx ends transaction id without committing, even if ctx is done.
func (c *Client) abortTx(ctx context.Context, id uint32) {
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	_, _, err := c.roundTrip(actx, "transaction_end", strconv.FormatUint(uint64(id), 10), typeTransactionEnd, id, nulStrings("F"), nil)
	if err != nil && c.Err() == nil {
		log.G(ctx).WithError(err).WithField("tx", id).Debug("xenstore: aborting transaction failed")
	}
}

// abortLateStart is the late handler of TRANSACTION_START: the caller gave
// up, but xenstored did open a transaction, which must not linger (it
// counts against the connection's quota).
func (c *Client) abortLateStart(r result) {
	if r.err != nil || r.typ != typeTransactionStart {
		return
	}
	id, err := parseUint32(r.payload)
	if err != nil || id == 0 {
		return
	}
	c.abortTx(context.Background(), id)
}
