package task

import (
	"context"
	"fmt"
	"time"

	eventstypes "github.com/containerd/containerd/api/events"
	taskv3 "github.com/containerd/containerd/api/runtime/task/v3"
	"github.com/containerd/containerd/v2/pkg/protobuf"
	"github.com/containerd/errdefs"
	"github.com/containerd/log"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	agent "github.com/runxen/runxen/guest-agent/api/v1"
)

func (s *Service) start(ctx context.Context, r *taskv3.StartRequest) (*taskv3.StartResponse, error) {
	c, err := s.container(r.ID)
	if err != nil {
		return nil, err
	}
	p, err := c.process(r.ExecID)
	if err != nil {
		return nil, err
	}
	p.startMu.Lock()
	defer p.startMu.Unlock()
	if st := p.phase(); st != created {
		return nil, fmt.Errorf("start %s: it is %s: %w", p.name(), st, errdefs.ErrFailedPrecondition)
	}
	svc := c.sb.sb.Agent()
	if p.id == "" {
		if _, err := svc.StartContainer(ctx, &agent.StartContainerRequest{ContainerId: c.id}); err != nil {
			return nil, fmt.Errorf("start %s: %w", p.name(), err)
		}
		p.setRunning()
		if c.spec.Hooks != nil && len(c.spec.Hooks.Poststart) > 0 {
			// The OCI runtime spec: a failed poststart hook is a warning.
			if err := s.env.RunHooks(ctx, c.spec.Hooks.Poststart, s.state(c, specs.StateRunning)); err != nil {
				log.G(ctx).WithError(err).WithField("id", c.id).Warn("poststart hook failed")
			}
		}
		s.env.Events.Send(&eventstypes.TaskStart{ContainerID: c.id, Pid: c.pid})
		return &taskv3.StartResponse{Pid: c.pid}, nil
	}

	// An exec: counted as running before it starts, so that an init exit
	// meanwhile waits for its exit, and refused once the init exited.
	c.mu.Lock()
	if c.initExited {
		c.mu.Unlock()
		return nil, fmt.Errorf("start %s: the container's init has exited: %w", p.name(), errdefs.ErrFailedPrecondition)
	}
	c.runningExecs++
	c.mu.Unlock()
	resp, err := svc.StartProcess(ctx, &agent.ProcessRequest{ContainerId: c.id, ExecId: p.id})
	if err != nil {
		c.execDone()
		return nil, fmt.Errorf("start %s: %w", p.name(), err)
	}
	p.setRunning()
	go s.monitor(p)
	s.env.Events.Send(&eventstypes.TaskExecStarted{ContainerID: c.id, ExecID: p.id, Pid: c.pid})
	log.G(ctx).WithFields(log.Fields{"id": c.id, "exec": p.id, "guest_pid": resp.Pid}).Debug("exec started")
	return &taskv3.StartResponse{Pid: c.pid}, nil
}

func (p *process) setRunning() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.st == created {
		p.st = running
	}
}

// monitor waits for a process's exit in the guest, lets its output drain,
// and records and publishes the exit in order.
func (s *Service) monitor(p *process) {
	code, at := s.waitGuest(p)
	if s.ctx.Err() != nil {
		return // the shim is going away
	}
	// A Start racing with the exit publishes its start event first.
	p.startMu.Lock()
	//lint:ignore SA2001 the empty section orders the exit after a racing Start
	p.startMu.Unlock()
	if !p.io.WaitOutput(OutputIdle) {
		log.G(s.ctx).WithFields(log.Fields{"id": p.c.id, "exec": p.id}).
			Warnf("output still open %s after the exit: published the exit without the rest", OutputIdle)
	}
	if p.id != "" {
		s.exitExec(p, code, at)
		return
	}
	s.exitInit(p, code, at)
}

// waitGuest asks the agent for the process's exit. If the guest cannot
// tell (it died, or the shim is closing), the exit is lost: 255.
func (s *Service) waitGuest(p *process) (uint32, time.Time) {
	svc := p.c.sb.sb.Agent()
	resp, err := svc.WaitProcess(s.ctx, &agent.ProcessRequest{ContainerId: p.c.id, ExecId: p.id})
	if err != nil {
		if s.ctx.Err() == nil {
			log.G(s.ctx).WithError(err).WithFields(log.Fields{"id": p.c.id, "exec": p.id}).
				Warn("the guest did not report the process's exit; recording it as lost (255)")
		}
		return lostExit, time.Now()
	}
	code := resp.ExitStatus
	if code > 255 {
		// Not an exit status: the guest is untrusted.
		log.G(s.ctx).WithFields(log.Fields{"id": p.c.id, "exec": p.id, "status": code}).
			Warn("the guest reported an exit status above 255; recording 255")
		code = lostExit
	}
	at := time.Now()
	if ts := resp.ExitedAt; ts.IsValid() {
		if t := ts.AsTime(); !t.After(at) && at.Sub(t) < 24*time.Hour {
			at = t // the guest's clock, unless it is plainly wrong
		}
	}
	return code, at
}

func (s *Service) exitExec(p *process, code uint32, at time.Time) {
	c := p.c
	if p.setExited(code, at, func(quiet bool) {
		if !quiet {
			s.env.Events.Send(&eventstypes.TaskExit{
				ContainerID: c.id, ID: p.id, Pid: c.pid, ExitStatus: code, ExitedAt: protobuf.ToTimestamp(at),
			})
		}
	}) {
		c.execDone()
	}
}

// exitInit publishes the init's exit after every exec's: the execs still
// running are killed (in the guest, as runc's shim kills what is left
// when the init of a container without its own PID namespace exits) and
// awaited for ExecGrace; those that never report are recorded as lost.
func (s *Service) exitInit(p *process, code uint32, at time.Time) {
	c := p.c
	c.mu.Lock()
	c.initExited = true
	n := c.runningExecs
	c.mu.Unlock()
	if n > 0 {
		ctx, cancel := context.WithTimeout(s.ctx, ExecGrace)
		_, err := c.sb.sb.Agent().SignalProcess(ctx, &agent.SignalProcessRequest{ContainerId: c.id, Signal: uint32(unix.SIGKILL), All: true})
		if err != nil && !agentIs(err, errdefs.IsNotFound) {
			log.G(ctx).WithError(err).WithField("id", c.id).Debug("kill the execs left after the init's exit")
		}
		s.awaitExecs(ctx, c)
		cancel()
	}
	p.setExited(code, at, func(quiet bool) {
		if !quiet {
			s.env.Events.Send(&eventstypes.TaskExit{
				ContainerID: c.id, ID: c.id, Pid: c.pid, ExitStatus: code, ExitedAt: protobuf.ToTimestamp(at),
			})
		}
	})
	log.G(s.ctx).WithFields(log.Fields{"id": c.id, "status": code}).Info("container exited")
}

// awaitExecs waits for the running execs' exits until ctx ends; then it
// records the rest as lost.
func (s *Service) awaitExecs(ctx context.Context, c *container) {
wait:
	for {
		c.mu.Lock()
		n, idle := c.runningExecs, c.execIdle
		c.mu.Unlock()
		if n == 0 {
			return
		}
		select {
		case <-idle:
		case <-ctx.Done():
			break wait
		}
	}
	c.mu.Lock()
	var left []*process
	for _, e := range c.execs {
		if e != nil && e.phase() == running {
			left = append(left, e)
		}
	}
	c.mu.Unlock()
	for _, e := range left {
		log.G(s.ctx).WithFields(log.Fields{"id": c.id, "exec": e.id}).Warn("exec did not report its exit after the init's; recording it as lost (255)")
		s.exitExec(e, lostExit, time.Now())
	}
}
