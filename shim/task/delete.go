package task

import (
	"context"
	"errors"
	"fmt"
	"time"

	eventstypes "github.com/containerd/containerd/api/events"
	taskv3 "github.com/containerd/containerd/api/runtime/task/v3"
	"github.com/containerd/containerd/v2/pkg/protobuf"
	"github.com/containerd/errdefs"
	"github.com/containerd/log"

	agent "github.com/runxen/runxen/guest-agent/api/v1"
	"github.com/runxen/runxen/shim/bundle"
)

func (s *Service) delete(ctx context.Context, r *taskv3.DeleteRequest) (*taskv3.DeleteResponse, error) {
	c, err := s.container(r.ID)
	if err != nil {
		return nil, err
	}
	if r.ExecID != "" {
		return s.deleteExec(c, r.ExecID)
	}
	p := c.init
	p.startMu.Lock()
	defer p.startMu.Unlock()
	p.mu.Lock()
	switch p.st {
	case running:
		p.mu.Unlock()
		return nil, fmt.Errorf("delete %s: it is running: %w", p.name(), errdefs.ErrFailedPrecondition)
	case created:
		// Never started: stopped by its deletion, with no exit event
		// (the guest's report of it, if any, comes too late to count).
		p.quiet = true
		p.mu.Unlock()
		p.setExited(0, time.Now(), nil)
	default:
		p.mu.Unlock()
	}
	c.mu.Lock()
	c.deleting = true
	c.mu.Unlock()

	if err := s.teardown(ctx, c); err != nil {
		return nil, fmt.Errorf("delete %s: %w", c.id, err)
	}
	code, at := p.exit()
	s.env.Events.Send(&eventstypes.TaskDelete{
		ContainerID: c.id, ID: c.id, Pid: c.pid, ExitStatus: code, ExitedAt: protobuf.ToTimestamp(at),
	})
	log.G(ctx).WithField("id", c.id).Info("container deleted")
	return &taskv3.DeleteResponse{Pid: c.pid, ExitStatus: code, ExitedAt: protobuf.ToTimestamp(at)}, nil
}

func (s *Service) deleteExec(c *container, execID string) (*taskv3.DeleteResponse, error) {
	p, err := c.process(execID)
	if err != nil {
		return nil, err
	}
	p.startMu.Lock()
	defer p.startMu.Unlock()
	p.mu.Lock()
	if p.st == running {
		p.mu.Unlock()
		return nil, fmt.Errorf("delete %s: it is running: %w", p.name(), errdefs.ErrFailedPrecondition)
	}
	p.quiet = true
	code, at := p.exitCode, p.exitedAt
	p.mu.Unlock()
	c.mu.Lock()
	delete(c.execs, execID)
	c.mu.Unlock()
	if err := p.io.Close(); err != nil {
		log.L.WithError(err).WithFields(log.Fields{"id": c.id, "exec": execID}).Warn("close exec stdio")
	}
	return &taskv3.DeleteResponse{Pid: c.pid, ExitStatus: code, ExitedAt: protobuf.ToTimestamp(at)}, nil
}

// teardown removes a container and, with its last container, its
// sandbox, in the order the OCI lifecycle asks: the container goes (the
// guest is destroyed), then the poststop hooks run (with the holder still
// there: nerdctl's hook finds the network namespace through the state's
// pid), then the holder, the rootfs mount, stdio and the shim's record go.
// A failure to destroy the guest is returned before anything else is
// undone, so that Delete can be retried.
func (s *Service) teardown(ctx context.Context, c *container) error {
	ctx = context.WithoutCancel(ctx)
	ref := c.sb
	s.mu.Lock()
	last := len(ref.containers) == 1
	s.mu.Unlock()
	if last {
		ref.stopOOM()
		if err := ref.sb.Destroy(ctx); err != nil {
			return fmt.Errorf("destroy sandbox %s (domain %s): %w", ref.id, ref.sb.DomainName(), err)
		}
	} else if _, err := ref.sb.Agent().RemoveContainer(ctx, &agent.RemoveContainerRequest{ContainerId: c.id}); err != nil && !agentIs(err, errdefs.IsNotFound) {
		return fmt.Errorf("remove from sandbox %s: %w", ref.id, err)
	}
	var errs []error
	s.poststop(ctx, c)
	if err := c.holder.Close(); err != nil {
		errs = append(errs, fmt.Errorf("network namespace holder: %w", err))
	}
	if c.mounted != "" {
		if err := s.env.Unmount(c.mounted); err != nil {
			errs = append(errs, fmt.Errorf("unmount rootfs %s: %w", c.mounted, err))
		}
	}
	c.mu.Lock()
	procs := []*process{c.init}
	for _, e := range c.execs {
		if e != nil {
			procs = append(procs, e)
		}
	}
	c.mu.Unlock()
	for _, p := range procs {
		if err := p.io.Close(); err != nil {
			log.G(ctx).WithError(err).WithFields(log.Fields{"id": c.id, "exec": p.id}).Warn("close stdio")
		}
	}
	if err := bundle.RemoveRecord(c.bundle); err != nil {
		errs = append(errs, err)
	}
	s.mu.Lock()
	delete(s.containers, c.id)
	delete(ref.containers, c.id)
	if len(ref.containers) == 0 {
		delete(s.sandboxes, ref.id)
	}
	s.mu.Unlock()
	if err := errors.Join(errs...); err != nil {
		// The container is gone; what is left is logged, not returned:
		// containerd could do nothing more with it.
		log.G(ctx).WithError(err).WithField("id", c.id).Error("clean up after the container")
	}
	return nil
}
