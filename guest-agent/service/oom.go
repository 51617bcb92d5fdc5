package service

import (
	"context"
	"slices"
	"sync"

	"google.golang.org/protobuf/types/known/emptypb"

	agent "github.com/runxen/runxen/guest-agent/api/v1"
)

// maxPendingOOM bounds the OOM queue. The queue holds each container at
// most once (the host only needs to know that a container hit its limit,
// not how often between two polls), so this is only reached with that many
// containers, which a guest never has.
const maxPendingOOM = 256

// oomQueue holds containers with an OOM kill not yet reported.
type oomQueue struct {
	mu      sync.Mutex
	pending []string      // guarded by mu
	changed chan struct{} // closed and replaced on every push; guarded by mu
}

func newOOMQueue() oomQueue { return oomQueue{changed: make(chan struct{})} }

// OOM records an OOM kill in container id, for GetOOMEvent. The OOM
// watcher calls it.
func (s *Service) OOM(id string) {
	q := &s.oom
	q.mu.Lock()
	defer q.mu.Unlock()
	if slices.Contains(q.pending, id) || len(q.pending) >= maxPendingOOM {
		return
	}
	q.pending = append(q.pending, id)
	close(q.changed)
	q.changed = make(chan struct{})
}

func (s *Service) GetOOMEvent(ctx context.Context, _ *emptypb.Empty) (*agent.OOMEvent, error) {
	q := &s.oom
	for {
		// A caller that has gone away takes nothing.
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		q.mu.Lock()
		if len(q.pending) > 0 {
			id := q.pending[0]
			q.pending = q.pending[1:]
			q.mu.Unlock()
			return &agent.OOMEvent{ContainerId: id}, nil
		}
		ch := q.changed
		q.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}
