package events

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	eventstypes "github.com/containerd/containerd/api/events"
	eventsapi "github.com/containerd/containerd/api/services/ttrpc/events/v1"
	"github.com/containerd/containerd/api/types"
	"github.com/containerd/ttrpc"
	"github.com/containerd/typeurl/v2"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
)

// fakeForwarder takes events, failing as told.
type fakeForwarder struct {
	mu     sync.Mutex
	got    []string
	fail   func(topic string, attempt int) error
	tries  map[string]int
	closed bool
}

func (f *fakeForwarder) Forward(ctx context.Context, env *types.Envelope) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.tries == nil {
		f.tries = map[string]int{}
	}
	id := containerOf(env)
	f.tries[id]++
	if f.fail != nil {
		if err := f.fail(id, f.tries[id]); err != nil {
			return err
		}
	}
	f.got = append(f.got, id)
	return nil
}

func (f *fakeForwarder) Close() error {
	f.mu.Lock()
	f.closed = true
	f.mu.Unlock()
	return nil
}

func (f *fakeForwarder) delivered() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.got...)
}

func containerOf(env *types.Envelope) string {
	v, err := typeurl.UnmarshalAny(env.Event)
	if err != nil {
		return "?"
	}
	return v.(*eventstypes.TaskStart).ContainerID
}

func newTestPublisher(f Forwarder) *Publisher {
	p := New("ns", f)
	p.backoff = func(int) time.Duration { return time.Millisecond }
	return p
}

func TestPublisherOrderAndRetry(t *testing.T) {
	for _, tc := range []struct {
		name string
		fail func(id string, attempt int) error
		want []string
	}{
		{"all taken", nil, []string{"a", "b", "c", "d"}},
		{"containerd away for a while: the head waits, order kept", func(id string, n int) error {
			if id == "b" && n < 5 {
				return errors.New("dial unix /run/containerd/containerd.sock.ttrpc: connection refused")
			}
			return nil
		}, []string{"a", "b", "c", "d"}},
		{"an event containerd refuses is dropped, the rest go on", func(id string, n int) error {
			if id == "c" {
				return status.Error(codes.InvalidArgument, "bad topic")
			}
			return nil
		}, []string{"a", "b", "d"}},
		{"unavailable is retried", func(id string, n int) error {
			if id == "a" && n < 3 {
				return status.Error(codes.Unavailable, "starting")
			}
			return nil
		}, []string{"a", "b", "c", "d"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeForwarder{fail: tc.fail}
			p := newTestPublisher(f)
			for _, id := range []string{"a", "b", "c", "d"} {
				p.Send(&eventstypes.TaskStart{ContainerID: id})
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := p.Close(ctx); err != nil {
				t.Fatal(err)
			}
			if got := f.delivered(); !slices.Equal(got, tc.want) {
				t.Errorf("delivered %v, want %v", got, tc.want)
			}
			if !f.closed {
				t.Error("forwarder not closed")
			}
			if err := p.Publish(context.Background(), "/tasks/start", &eventstypes.TaskStart{}); err == nil {
				t.Error("publish after close accepted")
			}
		})
	}
}

func TestPublisherCloseGivesUp(t *testing.T) {
	f := &fakeForwarder{fail: func(string, int) error { return errors.New("containerd is gone for good") }}
	p := newTestPublisher(f)
	p.Send(&eventstypes.TaskStart{ContainerID: "a"})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := p.Close(ctx); err == nil {
		t.Error("close reported no loss")
	}
}

func TestPublisherBound(t *testing.T) {
	block := make(chan struct{})
	f := &fakeForwarder{fail: func(string, int) error {
		<-block
		return nil
	}}
	p := newTestPublisher(f)
	for i := 0; i < MaxQueue+10; i++ {
		p.Send(&eventstypes.TaskStart{ContainerID: fmt.Sprint(i)})
	}
	if n := p.Pending(); n > MaxQueue {
		t.Errorf("%d events queued, bound %d", n, MaxQueue)
	}
	close(block)
	p.Close(context.Background())
}

// eventsServer plays containerd's ttrpc event service.
type eventsServer struct {
	mu  sync.Mutex
	got []string
}

func (s *eventsServer) Forward(ctx context.Context, r *eventsapi.ForwardRequest) (*emptypb.Empty, error) {
	s.mu.Lock()
	s.got = append(s.got, containerOf(r.Envelope))
	s.mu.Unlock()
	return &emptypb.Empty{}, nil
}

func (s *eventsServer) received() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.got...)
}

func serveEvents(t *testing.T, path string, s *eventsServer) func() {
	srv, err := ttrpc.NewServer()
	if err != nil {
		t.Fatal(err)
	}
	eventsapi.RegisterEventsService(srv, s)
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(context.Background(), l)
	return func() { srv.Close(); l.Close() }
}

// TestTTRPCAcrossRestart: events published while containerd restarts
// arrive, in order, once it is back.
func TestTTRPCAcrossRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "containerd.sock.ttrpc")
	first := &eventsServer{}
	stop := serveEvents(t, path, first)
	fwd, err := Dial("unix://" + path)
	if err != nil {
		t.Fatal(err)
	}
	p := New("ns", fwd)
	p.backoff = func(int) time.Duration { return 10 * time.Millisecond }
	p.Send(&eventstypes.TaskStart{ContainerID: "before"})
	waitUntil(t, func() bool { return len(first.received()) == 1 })
	stop()
	p.Send(&eventstypes.TaskStart{ContainerID: "during1"})
	p.Send(&eventstypes.TaskStart{ContainerID: "during2"})
	time.Sleep(50 * time.Millisecond)
	second := &eventsServer{}
	stop = serveEvents(t, path, second)
	defer stop()
	p.Send(&eventstypes.TaskStart{ContainerID: "after"})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if got, want := second.received(), []string{"during1", "during2", "after"}; !slices.Equal(got, want) {
		t.Errorf("after the restart %v, want %v", got, want)
	}
}

func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	for i := 0; i < 500; i++ {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("condition never met")
}
