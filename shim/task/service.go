package task

import (
	"context"
	"fmt"
	"sync"
	"time"

	taskv3 "github.com/containerd/containerd/api/runtime/task/v3"
	"github.com/containerd/errdefs"
	"github.com/containerd/log"
	"github.com/containerd/ttrpc"
)

// Timing of exits.
var (
	// OutputIdle: after a process exited, its output counts as delivered
	// when the agent reported the end of both streams, or when no byte
	// moved for this long (a descendant holds the stream open, or the
	// client stopped reading).
	OutputIdle = 5 * time.Second
	// ExecGrace: after the init exited, the execs still running are
	// killed and get this long to report their exits before they are
	// recorded as lost (exit 255), so that the init's exit, published
	// last, is never held up by a guest that does not answer.
	ExecGrace = 10 * time.Second
)

// lostExit is the exit status of a process whose guest died, or whose
// exit the guest never reported: the status is unknown.
const lostExit = 255

// Service is the task service. Create it with New.
type Service struct {
	env Env
	// ctx is the service's life: background work (exit monitors, OOM
	// watchers) runs under it; Close cancels it.
	ctx    context.Context
	cancel context.CancelFunc

	mu         sync.Mutex
	containers map[string]*container  // guarded by mu
	sandboxes  map[string]*sandboxRef // guarded by mu
	reserved   map[string]bool        // IDs being created; guarded by mu
}

// sandboxRef is a sandbox and the containers the service runs in it.
type sandboxRef struct {
	id         string
	sb         Sandbox
	containers map[string]*container // guarded by Service.mu
	stopOOM    context.CancelFunc
}

var _ taskv3.TTRPCTaskService = (*Service)(nil)

// New returns a task service working in env.
func New(ctx context.Context, env Env) *Service {
	s := &Service{
		env:        env,
		containers: make(map[string]*container),
		sandboxes:  make(map[string]*sandboxRef),
		reserved:   make(map[string]bool),
	}
	s.ctx, s.cancel = context.WithCancel(context.WithoutCancel(ctx))
	return s
}

// RegisterTTRPC registers the service under containerd.task.v3.Task and
// containerd.task.v2.Task.
func (s *Service) RegisterTTRPC(srv *ttrpc.Server) error {
	taskv3.RegisterTTRPCTaskService(srv, s)
	return registerV2(srv, s)
}

func (s *Service) container(id string) (*container, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.containers[id]
	if !ok {
		return nil, fmt.Errorf("container %s: %w", id, errdefs.ErrNotFound)
	}
	return c, nil
}

func (s *Service) process(id, execID string) (*process, error) {
	c, err := s.container(id)
	if err != nil {
		return nil, err
	}
	return c.process(execID)
}

// Close is the shim's last act (pkg/shim's shutdown callbacks): it tears
// down whatever containers are left, since their guests cannot work
// without the shim that serves their file systems, and stops background
// work.
func (s *Service) Close(ctx context.Context) error {
	s.mu.Lock()
	var left []*container
	for _, c := range s.containers {
		left = append(left, c)
	}
	s.mu.Unlock()
	for _, c := range left {
		log.G(ctx).WithField("id", c.id).Warn("shim exits with the container still there: tearing it down")
		if err := s.teardown(ctx, c); err != nil {
			log.G(ctx).WithError(err).WithField("id", c.id).Error("tear down at shim exit")
		}
	}
	s.cancel()
	return nil
}
