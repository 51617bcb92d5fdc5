package task

import (
	"context"
	"fmt"

	eventstypes "github.com/containerd/containerd/api/events"
	taskv3 "github.com/containerd/containerd/api/runtime/task/v3"
	"github.com/containerd/errdefs"
	"github.com/containerd/log"
	"github.com/containerd/typeurl/v2"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	agent "github.com/runxen/runxen/guest-agent/api/v1"
	"github.com/runxen/runxen/shim/stdio"
)

// maxSignal is the largest Linux signal number (SIGRTMAX).
const maxSignal = 64

func (s *Service) kill(ctx context.Context, r *taskv3.KillRequest) error {
	p, err := s.process(r.ID, r.ExecID)
	if err != nil {
		return err
	}
	if r.Signal > maxSignal {
		return fmt.Errorf("kill %s: signal %d: %w", p.name(), r.Signal, errdefs.ErrInvalidArgument)
	}
	if p.phase() == stopped && !r.All {
		// What containerd expects for a process that is gone.
		return fmt.Errorf("kill %s: process already finished: %w", p.name(), errdefs.ErrNotFound)
	}
	sb := p.c.sb.sb
	_, err = sb.Agent().SignalProcess(ctx, &agent.SignalProcessRequest{
		ContainerId: p.c.id, ExecId: p.id, Signal: r.Signal, All: r.All,
	})
	if err != nil {
		select {
		case <-sb.Done():
			// The guest is gone and so is the process: its exit (lost) is
			// on its way.
			log.G(ctx).WithError(err).WithField("id", p.c.id).Debug("kill: the guest is gone")
			return nil
		default:
		}
		return fmt.Errorf("kill %s: %w", p.name(), err)
	}
	return nil
}

func (s *Service) pause(ctx context.Context, r *taskv3.PauseRequest) error {
	c, err := s.container(r.ID)
	if err != nil {
		return err
	}
	if err := s.setPaused(ctx, c, true); err != nil {
		return err
	}
	s.env.Events.Send(&eventstypes.TaskPaused{ContainerID: c.id})
	return nil
}

func (s *Service) resume(ctx context.Context, r *taskv3.ResumeRequest) error {
	c, err := s.container(r.ID)
	if err != nil {
		return err
	}
	if err := s.setPaused(ctx, c, false); err != nil {
		return err
	}
	s.env.Events.Send(&eventstypes.TaskResumed{ContainerID: c.id})
	return nil
}

// setPaused freezes or thaws the container; the init's start lock keeps
// it from racing the init's start.
func (s *Service) setPaused(ctx context.Context, c *container, pause bool) error {
	verb := map[bool]string{true: "pause", false: "resume"}[pause]
	c.init.startMu.Lock()
	defer c.init.startMu.Unlock()
	if st := c.init.phase(); st != running {
		return fmt.Errorf("%s %s: the container is %s: %w", verb, c.id, st, errdefs.ErrFailedPrecondition)
	}
	c.mu.Lock()
	paused := c.paused
	c.mu.Unlock()
	if paused == pause {
		state := map[bool]string{true: "paused", false: "not paused"}[paused]
		return fmt.Errorf("%s %s: the container is %s: %w", verb, c.id, state, errdefs.ErrFailedPrecondition)
	}
	var err error
	if pause {
		err = c.sb.sb.Pause(ctx, c.id)
	} else {
		err = c.sb.sb.Resume(ctx, c.id)
	}
	if err != nil {
		return fmt.Errorf("%s %s: %w", verb, c.id, err)
	}
	c.mu.Lock()
	c.paused = pause
	c.mu.Unlock()
	return nil
}

func (s *Service) resizePty(ctx context.Context, r *taskv3.ResizePtyRequest) error {
	p, err := s.process(r.ID, r.ExecID)
	if err != nil {
		return err
	}
	// The kernel's winsize holds 16 bits; 0x0 is valid (as with runc's
	// shim: Docker sends the size of whatever it has, possibly none).
	if r.Width > 0xffff || r.Height > 0xffff {
		return fmt.Errorf("resize the terminal of %s to %dx%d: %w", p.name(), r.Width, r.Height, errdefs.ErrInvalidArgument)
	}
	if _, err := p.c.sb.sb.Agent().ResizePty(ctx, &agent.ResizePtyRequest{
		ContainerId: p.c.id, ExecId: p.id, Width: r.Width, Height: r.Height,
	}); err != nil {
		return fmt.Errorf("resize the terminal of %s: %w", p.name(), err)
	}
	return nil
}

// closeIO forwards the client's end of stdin. It returns at once: what
// the client wrote before reaches the guest first, then its stdin closes.
func (s *Service) closeIO(ctx context.Context, r *taskv3.CloseIORequest) error {
	p, err := s.process(r.ID, r.ExecID)
	if err != nil {
		return err
	}
	if r.Stdin {
		go p.io.CloseStdin(stdio.StdinCloseWait)
	}
	return nil
}

func (s *Service) update(ctx context.Context, r *taskv3.UpdateTaskRequest) error {
	c, err := s.container(r.ID)
	if err != nil {
		return err
	}
	if len(r.Annotations) > 0 {
		log.G(ctx).WithField("id", c.id).Info("update: annotations are not applied to a running container")
	}
	if r.Resources == nil {
		return nil
	}
	v, err := typeurl.UnmarshalAny(r.Resources)
	if err != nil {
		return fmt.Errorf("update %s: resources: %v: %w", c.id, err, errdefs.ErrInvalidArgument)
	}
	res, ok := v.(*specs.LinuxResources)
	if !ok {
		return fmt.Errorf("update %s: resources are a %T, not OCI Linux resources: %w", c.id, v, errdefs.ErrInvalidArgument)
	}
	if err := c.sb.sb.Update(ctx, c.id, res); err != nil {
		return fmt.Errorf("update %s: %w", c.id, err)
	}
	return nil
}
