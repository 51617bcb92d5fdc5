package xenstore

import (
	"context"
	"errors"
	"strconv"
	"sync"
)

// watchQueueMax bounds the distinct undelivered events a Watch holds.
const watchQueueMax = 256

// Event is one watch notification: Path changed (was written, created,
// removed, or had its permissions changed), or, when Path is the watched
// path itself, anything at or beneath it may have changed. Token is the
// watch's token.
type Event struct {
	Path  string
	Token string
}

// Watch is a registered xenstore watch. Its events arrive on Events().
//
// As xenstored does, a new watch fires once straight away with Path equal
// to the watched path, so a consumer can read the current state first and
// then react to changes without a race. Events are edge-triggered hints;
// xenstored itself may send spurious ones, and consumers must re-read the
// state they care about rather than count events.
//
// Slow consumers: the connection's reader never waits for a Watch. Events
// not yet taken from the channel wait in a per-watch queue that coalesces
// them: an event for a path already queued is dropped (one re-read covers
// both), and while an event for the watched path itself is queued, every
// other event is dropped (it already says "re-read everything"). If more
// than watchQueueMax (256) distinct paths pile up, the queue is replaced by
// a single event for the watched path. So nothing is lost that a re-read
// does not recover, and memory stays bounded.
//
// The channel is closed when the Watch is closed, or when the Client stops;
// Err then tells which.
type Watch struct {
	c     *Client
	path  string
	token string

	ch     chan Event
	kick   chan struct{} // capacity 1: "the queue may be non-empty"
	stop   chan struct{} // closed by terminate
	exited chan struct{} // closed when run has closed ch

	mu      sync.Mutex
	queue   []Event
	queued  map[string]struct{}
	stopped bool
	err     error
}

// Events returns the channel events are delivered on. It is closed when the
// watch ends.
func (w *Watch) Events() <-chan Event { return w.ch }

// Path is the watched path, as given to Client.Watch.
func (w *Watch) Path() string { return w.path }

// Token is the watch's token (generated if Client.Watch was given "").
func (w *Watch) Token() string { return w.token }

// Err is nil while the watch runs and after Close; once the Client has
// stopped it is ErrClosed or the connection error.
func (w *Watch) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// Close unregisters the watch (UNWATCH) and closes the channel; undelivered
// events are dropped. It is idempotent. After it returns no more events are
// delivered. It returns an error only if xenstored refused the UNWATCH for a
// reason other than the watch being gone already.
func (w *Watch) Close() error {
	first := w.terminate(nil)
	<-w.exited
	if !first {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	_, _, err := w.c.roundTrip(ctx, "unwatch", w.path, typeUnwatch, 0, nulStrings(w.path, w.token), nil)
	// Keep the token reserved until xenstored has forgotten it, so that a
	// new watch reusing it never receives this one's events.
	w.c.removeWatch(w)
	if err == nil || errors.Is(err, ErrNotExist) || errors.Is(err, ErrClosed) || errors.Is(err, ErrConnLost) {
		return nil
	}
	return err
}

// Watch registers a watch on path (a node path, absolute or relative, or a
// special path such as ReleaseDomain) and returns it once xenstored has
// accepted it. Events for path and everything beneath it arrive on the
// Watch's channel, starting with the initial one.
//
// token identifies the watch to xenstored and in events. Events are routed
// by token, so it must be unique on this Client: reuse of a live token
// fails with ErrExist. Pass "" to have a unique token generated.
func (c *Client) Watch(ctx context.Context, path, token string) (*Watch, error) {
	if err := checkWatchPath("watch", path); err != nil {
		return nil, err
	}
	for i := 0; i < len(token); i++ {
		if token[i] == 0 {
			return nil, invalid("watch", path, "EINVAL", "token contains NUL")
		}
	}
	w := &Watch{
		c:      c,
		path:   path,
		ch:     make(chan Event),
		kick:   make(chan struct{}, 1),
		stop:   make(chan struct{}),
		exited: make(chan struct{}),
		queued: make(map[string]struct{}),
	}

	// Register before sending: xenstored may deliver the initial event
	// before (or right after) its reply, and it must find the watch.
	c.mu.Lock()
	if c.err != nil {
		err := c.err
		c.mu.Unlock()
		return nil, err
	}
	if token == "" {
		for {
			c.tokenSeq++
			token = "runxen-" + strconv.FormatUint(c.tokenSeq, 10)
			if _, busy := c.watches[token]; !busy {
				break
			}
		}
	} else if _, busy := c.watches[token]; busy {
		c.mu.Unlock()
		return nil, invalid("watch", path, "EEXIST", "token "+strconv.Quote(token)+" already in use on this connection")
	}
	w.token = token
	c.watches[token] = w
	c.mu.Unlock()
	go w.run()

	_, armed, err := c.roundTrip(ctx, "watch", path, typeWatch, 0, nulStrings(path, token), func(r result) {
		// The caller gave up but the request went out: if xenstored
		// registered the watch, remove it again, then free the token.
		if r.err == nil && r.typ == typeWatch {
			uctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
			defer cancel()
			c.roundTrip(uctx, "unwatch", path, typeUnwatch, 0, nulStrings(path, token), nil) //nolint:errcheck // best effort
		}
		c.removeWatch(w)
	})
	if err != nil {
		w.terminate(err)
		<-w.exited
		if !armed {
			c.removeWatch(w)
		}
		return nil, err
	}
	return w, nil
}

// removeWatch frees w's token if it still maps to w.
func (c *Client) removeWatch(w *Watch) {
	c.mu.Lock()
	if c.watches[w.token] == w {
		delete(c.watches, w.token)
	}
	c.mu.Unlock()
}

// deliver queues an event; called by the reader, never blocks.
func (w *Watch) deliver(ev Event) {
	w.mu.Lock()
	if w.stopped {
		w.mu.Unlock()
		return
	}
	_, dup := w.queued[ev.Path]
	_, rescan := w.queued[w.path]
	if !dup && !rescan {
		if len(w.queue) >= watchQueueMax {
			clear(w.queue)
			w.queue = w.queue[:0]
			clear(w.queued)
			ev = Event{Path: w.path, Token: w.token}
		}
		w.queue = append(w.queue, ev)
		w.queued[ev.Path] = struct{}{}
	}
	w.mu.Unlock()
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

func (w *Watch) pop() (Event, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.queue) == 0 {
		return Event{}, false
	}
	ev := w.queue[0]
	w.queue[0] = Event{}
	w.queue = w.queue[1:]
	delete(w.queued, ev.Path)
	return ev, true
}

// run moves events from the queue to the channel, one at a time, so only
// this goroutine ever waits for the consumer.
func (w *Watch) run() {
	defer close(w.exited)
	defer close(w.ch)
	for {
		ev, ok := w.pop()
		if !ok {
			select {
			case <-w.kick:
				continue
			case <-w.stop:
				return
			}
		}
		select {
		case w.ch <- ev:
		case <-w.stop:
			return
		}
	}
}

// terminate stops delivery with err (nil for a plain Close). It reports
// whether this call stopped the watch.
func (w *Watch) terminate(err error) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopped {
		return false
	}
	w.stopped = true
	w.err = err
	w.queue, w.queued = nil, nil
	close(w.stop)
	return true
}
