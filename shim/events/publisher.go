package events

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/containerd/containerd/api/types"
	"github.com/containerd/containerd/v2/core/events"
	"github.com/containerd/containerd/v2/core/runtime"
	"github.com/containerd/containerd/v2/pkg/protobuf"
	"github.com/containerd/log"
	"github.com/containerd/typeurl/v2"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Forwarder hands one event to containerd.
type Forwarder interface {
	Forward(ctx context.Context, env *types.Envelope) error
	Close() error
}

// Limits and pacing of the queue.
const (
	// MaxQueue bounds the events kept while containerd is away; beyond
	// it the oldest are dropped (with an error in the log). A shim emits a
	// handful of events per process, so this is hours of a busy
	// container's life.
	MaxQueue = 4096
	// ForwardTimeout bounds one attempt.
	ForwardTimeout = 5 * time.Second
	minBackoff     = 100 * time.Millisecond
	maxBackoff     = 5 * time.Second
)

// Publisher queues events and forwards them in order. It satisfies
// containerd's events.Publisher.
type Publisher struct {
	ns  string
	fwd Forwarder

	mu      sync.Mutex
	queue   []*types.Envelope // guarded by mu
	closing bool              // guarded by mu
	wake    chan struct{}     // a send wakes the forwarder; capacity 1

	stop chan struct{} // closed to make the forwarder give up its queue
	done chan struct{} // closed when the forwarder returned
	// for tests: the backoff after a failed attempt
	backoff func(attempt int) time.Duration
}

var _ events.Publisher = (*Publisher)(nil)

// New starts a publisher for the containerd namespace ns.
func New(ns string, fwd Forwarder) *Publisher {
	p := &Publisher{
		ns:      ns,
		fwd:     fwd,
		wake:    make(chan struct{}, 1),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
		backoff: backoff,
	}
	go p.run()
	return p
}

func backoff(attempt int) time.Duration {
	d := minBackoff << min(attempt, 10)
	return min(d, maxBackoff)
}

// Send queues evt; its topic comes from its type, its time is now. It
// never blocks.
func (p *Publisher) Send(evt events.Event) {
	if err := p.Publish(context.Background(), runtime.GetTopic(evt), evt); err != nil {
		log.L.WithError(err).Errorf("event %T not queued", evt)
	}
}

// Publish queues an event under topic. The context's namespace, if any,
// is ignored: a shim serves one namespace.
func (p *Publisher) Publish(ctx context.Context, topic string, evt events.Event) error {
	any, err := typeurl.MarshalAnyToProto(evt)
	if err != nil {
		return fmt.Errorf("encode %s event: %w", topic, err)
	}
	env := &types.Envelope{
		Timestamp: protobuf.ToTimestamp(time.Now()),
		Namespace: p.ns,
		Topic:     topic,
		Event:     any,
	}
	p.mu.Lock()
	if p.closing {
		p.mu.Unlock()
		return fmt.Errorf("publish %s: publisher is closed", topic)
	}
	if len(p.queue) >= MaxQueue {
		log.L.WithField("topic", p.queue[0].Topic).Error("event queue full while containerd is away; dropping the oldest event")
		p.queue[0] = nil
		p.queue = p.queue[1:]
	}
	p.queue = append(p.queue, env)
	p.mu.Unlock()
	select {
	case p.wake <- struct{}{}:
	default:
	}
	return nil
}

func (p *Publisher) run() {
	defer close(p.done)
	attempt := 0
	for {
		p.mu.Lock()
		var head *types.Envelope
		if len(p.queue) > 0 {
			head = p.queue[0]
		}
		closing := p.closing
		p.mu.Unlock()
		if head == nil {
			if closing {
				return
			}
			select {
			case <-p.wake:
			case <-p.stop:
				return
			}
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), ForwardTimeout)
		err := p.fwd.Forward(ctx, head)
		cancel()
		if err != nil && !refused(err) {
			if attempt == 0 || attempt%20 == 0 {
				log.L.WithError(err).WithField("topic", head.Topic).Warn("containerd did not take the event; retrying")
			}
			select {
			case <-time.After(p.backoff(attempt)):
			case <-p.stop:
				return
			}
			attempt++
			continue
		}
		if err != nil {
			log.L.WithError(err).WithField("topic", head.Topic).Error("containerd refused the event; dropping it")
		}
		attempt = 0
		p.mu.Lock()
		p.queue[0] = nil
		p.queue = p.queue[1:]
		p.mu.Unlock()
	}
}

// refused tells an answer from containerd (it got the event and said no:
// ttrpc carries the server's error as a gRPC status) from a failure to
// reach it (ttrpc.ErrClosed, a dial error, a timeout: plain errors).
func refused(err error) bool {
	var st interface{ GRPCStatus() *status.Status }
	if !errors.As(err, &st) {
		return false
	}
	switch st.GRPCStatus().Code() {
	case codes.OK, codes.Unavailable, codes.DeadlineExceeded, codes.Canceled:
		return false
	}
	return true
}

// Close delivers what is queued, for as long as ctx allows, then stops
// and closes the forwarder. Events sent after Close are refused.
func (p *Publisher) Close(ctx context.Context) error {
	p.mu.Lock()
	already := p.closing
	p.closing = true
	p.mu.Unlock()
	if !already {
		select {
		case p.wake <- struct{}{}:
		default:
		}
	}
	var err error
	select {
	case <-p.done:
	case <-ctx.Done():
		p.mu.Lock()
		n := len(p.queue)
		p.mu.Unlock()
		err = fmt.Errorf("%d events not delivered: %w", n, ctx.Err())
	}
	select {
	case <-p.stop:
	default:
		close(p.stop)
	}
	<-p.done
	if already {
		return err
	}
	return errors.Join(err, p.fwd.Close())
}

// Pending is the number of events not yet delivered.
func (p *Publisher) Pending() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.queue)
}
