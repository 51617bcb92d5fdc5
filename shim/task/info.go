package task

import (
	"context"
	"fmt"
	"os"

	taskv3 "github.com/containerd/containerd/api/runtime/task/v3"
	"github.com/containerd/containerd/api/types/task"
	"github.com/containerd/containerd/v2/pkg/protobuf"
	"github.com/containerd/errdefs"
	"github.com/containerd/log"
	"github.com/containerd/typeurl/v2"

	agent "github.com/runxen/runxen/guest-agent/api/v1"
)

func (s *Service) stateOf(r *taskv3.StateRequest) (*taskv3.StateResponse, error) {
	p, err := s.process(r.ID, r.ExecID)
	if err != nil {
		return nil, err
	}
	cfg := p.io.Config()
	st := p.stateStatus()
	resp := &taskv3.StateResponse{
		ID:       p.c.id,
		ExecID:   p.id,
		Bundle:   p.c.bundle,
		Pid:      p.c.pid,
		Status:   st,
		Stdin:    cfg.Stdin,
		Stdout:   cfg.Stdout,
		Stderr:   cfg.Stderr,
		Terminal: cfg.Terminal,
	}
	if st == task.Status_STOPPED {
		code, at := p.exit()
		resp.ExitStatus, resp.ExitedAt = code, protobuf.ToTimestamp(at)
	}
	return resp, nil
}

// pids lists the task's host processes: the network namespace holder.
// The guest's processes have no host PID; `docker top` runs the host's ps
// on what this returns (see docs/design/shim.md).
func (s *Service) pids(r *taskv3.PidsRequest) (*taskv3.PidsResponse, error) {
	c, err := s.container(r.ID)
	if err != nil {
		return nil, err
	}
	return &taskv3.PidsResponse{Processes: []*task.ProcessInfo{{Pid: c.pid}}}, nil
}

func (s *Service) wait(ctx context.Context, r *taskv3.WaitRequest) (*taskv3.WaitResponse, error) {
	p, err := s.process(r.ID, r.ExecID)
	if err != nil {
		return nil, err
	}
	select {
	case <-p.exited:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	code, at := p.exit()
	return &taskv3.WaitResponse{ExitStatus: code, ExitedAt: protobuf.ToTimestamp(at)}, nil
}

func (s *Service) stats(ctx context.Context, r *taskv3.StatsRequest) (*taskv3.StatsResponse, error) {
	c, err := s.container(r.ID)
	if err != nil {
		return nil, err
	}
	st, err := c.sb.sb.Agent().Stats(ctx, &agent.ContainerRequest{ContainerId: c.id})
	if err != nil {
		return nil, fmt.Errorf("stats of %s: %w", c.id, err)
	}
	a, err := typeurl.MarshalAnyToProto(metrics(st))
	if err != nil {
		return nil, fmt.Errorf("stats of %s: %w", c.id, err)
	}
	return &taskv3.StatsResponse{Stats: a}, nil
}

func (s *Service) connect(r *taskv3.ConnectRequest) (*taskv3.ConnectResponse, error) {
	c, err := s.container(r.ID)
	if err != nil {
		return nil, err
	}
	return &taskv3.ConnectResponse{ShimPid: uint32(os.Getpid()), TaskPid: c.pid}, nil
}

// shutdownShim ends the shim once it holds no container; containerd calls
// it after each task's delete (and a pod's shim would keep serving the
// others).
func (s *Service) shutdownShim(ctx context.Context, r *taskv3.ShutdownRequest) {
	s.mu.Lock()
	n := len(s.containers) + len(s.reserved)
	s.mu.Unlock()
	if n > 0 {
		return
	}
	log.G(ctx).Debug("no container left: shim shutting down")
	if s.env.Shutdown != nil {
		s.env.Shutdown()
	}
}

func checkpointNotImplemented(r *taskv3.CheckpointTaskRequest) error {
	return fmt.Errorf("checkpoint %s: runxen cannot checkpoint a Xen guest yet: %w", r.ID, errdefs.ErrNotImplemented)
}
