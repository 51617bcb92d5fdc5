package task

import (
	"context"
	"encoding/json"
	"fmt"

	eventstypes "github.com/containerd/containerd/api/events"
	taskv3 "github.com/containerd/containerd/api/runtime/task/v3"
	"github.com/containerd/errdefs"
	"github.com/containerd/typeurl/v2"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	agent "github.com/runxen/runxen/guest-agent/api/v1"
	"github.com/runxen/runxen/shim/stdio"

	// The OCI types' type URLs (specs.Process, specs.LinuxResources), as
	// containerd registers them.
	_ "github.com/containerd/containerd/v2/core/runtime"
)

func (s *Service) exec(ctx context.Context, r *taskv3.ExecProcessRequest) error {
	c, err := s.container(r.ID)
	if err != nil {
		return err
	}
	if r.ExecID == "" {
		return fmt.Errorf("exec in %s: empty exec ID: %w", r.ID, errdefs.ErrInvalidArgument)
	}
	if st := c.init.phase(); st != running {
		return fmt.Errorf("exec in %s: the container is %s: %w", r.ID, st, errdefs.ErrFailedPrecondition)
	}
	if r.Spec == nil {
		return fmt.Errorf("exec %s in %s: no process spec: %w", r.ExecID, r.ID, errdefs.ErrInvalidArgument)
	}
	v, err := typeurl.UnmarshalAny(r.Spec)
	if err != nil {
		return fmt.Errorf("exec %s in %s: process spec: %v: %w", r.ExecID, r.ID, err, errdefs.ErrInvalidArgument)
	}
	proc, ok := v.(*specs.Process)
	if !ok {
		return fmt.Errorf("exec %s in %s: spec is a %T, not an OCI process: %w", r.ExecID, r.ID, v, errdefs.ErrInvalidArgument)
	}
	if proc.Terminal != r.Terminal {
		return fmt.Errorf("exec %s in %s: the request's terminal (%v) and the process's (%v) disagree: %w",
			r.ExecID, r.ID, r.Terminal, proc.Terminal, errdefs.ErrInvalidArgument)
	}
	raw, err := json.Marshal(proc)
	if err != nil {
		return fmt.Errorf("exec %s in %s: %w", r.ExecID, r.ID, err)
	}

	// Claim the ID (a nil entry) before the slow part, so that a
	// duplicate fails fast.
	c.mu.Lock()
	if _, ok := c.execs[r.ExecID]; ok {
		c.mu.Unlock()
		return fmt.Errorf("exec %s in %s: %w", r.ExecID, r.ID, errdefs.ErrAlreadyExists)
	}
	c.execs[r.ExecID] = nil
	c.mu.Unlock()
	ok = false
	defer func() {
		if !ok {
			c.mu.Lock()
			delete(c.execs, r.ExecID)
			c.mu.Unlock()
		}
	}()

	cfg := stdio.Config{Stdin: r.Stdin, Stdout: r.Stdout, Stderr: r.Stderr, Terminal: r.Terminal}
	pio, err := stdio.Open(ctx, cfg, stdio.Owner{Namespace: s.env.Namespace, ContainerID: r.ID})
	if err != nil {
		return fmt.Errorf("exec %s in %s: stdio: %w", r.ExecID, r.ID, err)
	}
	svc := c.sb.sb.Agent()
	if _, err := svc.ExecProcess(ctx, &agent.ExecProcessRequest{
		ContainerId: r.ID, ExecId: r.ExecID, Process: raw, Terminal: r.Terminal, Stdin: r.Stdin != "",
	}); err != nil {
		pio.Close()
		return fmt.Errorf("exec %s in %s: %w", r.ExecID, r.ID, err)
	}
	p := newProcess(c, r.ExecID, pio)
	c.mu.Lock()
	c.execs[r.ExecID] = p
	c.mu.Unlock()
	pio.Start(svc, r.ID, r.ExecID)
	ok = true
	s.env.Events.Send(&eventstypes.TaskExecAdded{ContainerID: r.ID, ExecID: r.ExecID})
	return nil
}
