package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/containerd/errdefs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"google.golang.org/protobuf/types/known/emptypb"

	agent "github.com/runxen/runxen/guest-agent/api/v1"
	"github.com/runxen/runxen/runtime/ocispec"
	"github.com/runxen/runxen/runtime/xen"
)

// flushTimeout bounds Destroy's request that the guest flush its writes:
// a guest that does not answer at once is not waited for.
const flushTimeout = 10 * time.Second

// Destroy tears the guest down and leaves nothing behind: the agent
// connection, the domain, its shares (xenstore nodes, grants, event
// channels, file servers) and the staged bind mounts. It first asks the
// guest to flush what it wrote to its shares, if the agent still answers.
// It is idempotent: what was taken down stays down, and what failed is
// tried again on the next call.
func (s *Sandbox) Destroy(ctx context.Context) error {
	s.lifecycle.Lock()
	defer s.lifecycle.Unlock()
	var errs []error
	if c := s.client; c != nil {
		if c.Err() == nil {
			fctx, cancel := context.WithTimeout(ctx, flushTimeout)
			if _, err := c.Agent().SyncFS(fctx, &emptypb.Empty{}); err != nil {
				s.logger.WithError(err).Warn("guest did not flush its writes before being destroyed")
			}
			cancel()
		}
		c.Close()
	}
	if s.domid != 0 {
		if err := s.ts.Destroy(ctx, s.domid); err != nil && !errors.Is(err, xen.ErrNoDomain) {
			errs = append(errs, fmt.Errorf("destroy domain %s (%d): %w", s.name, s.domid, err))
		} else {
			s.logger.Info("domain destroyed")
			s.domid = 0
		}
	}
	// Shares go after the domain: its frontends are gone, so every device
	// is torn down without waiting for the guest.
	if s.shares != nil && s.domid == 0 {
		if err := s.shares.Close(); err != nil {
			errs = append(errs, err)
		} else {
			s.shares = nil
		}
	}
	if s.stage != nil && s.shares == nil {
		// Only once no file server serves the staging directory.
		if err := s.stage.remove(); err != nil {
			errs = append(errs, err)
		} else {
			s.stage = nil
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("destroy sandbox %s: %w", s.cfg.ID, err)
	}
	if s.ownStore && s.store != nil {
		if c, ok := s.store.(interface{ Close() error }); ok {
			c.Close()
		}
		s.store = nil
	}
	s.destroyed = true
	return nil
}

// live returns the sandbox's agent for an operation on container id, or
// an error if the sandbox was destroyed or does not hold the container.
// Called with lifecycle held.
func (s *Sandbox) live(op, id string) (agent.AgentService, *container, error) {
	if s.destroyed || s.domid == 0 {
		return nil, nil, fmt.Errorf("%s container %s: sandbox %s was destroyed: %w", op, id, s.cfg.ID, errdefs.ErrFailedPrecondition)
	}
	c, ok := s.containers[id]
	if !ok {
		return nil, nil, fmt.Errorf("%s container %s: not in sandbox %s: %w", op, id, s.cfg.ID, errdefs.ErrNotFound)
	}
	return s.client.Agent(), c, nil
}

// Pause flushes the guest's writes to the host, then freezes the
// container: what docker commit reads while it is paused is complete.
func (s *Sandbox) Pause(ctx context.Context, containerID string) error {
	s.lifecycle.Lock()
	defer s.lifecycle.Unlock()
	svc, _, err := s.live("pause", containerID)
	if err != nil {
		return err
	}
	if _, err := svc.SyncFS(ctx, &emptypb.Empty{}); err != nil {
		return fmt.Errorf("pause container %s: flush the guest's writes: %w", containerID, err)
	}
	if err := s.shares.Sync(ctx); err != nil {
		return fmt.Errorf("pause container %s: flush the shares: %w", containerID, err)
	}
	if _, err := svc.PauseContainer(ctx, &agent.ContainerRequest{ContainerId: containerID}); err != nil {
		return fmt.Errorf("pause container %s: %w", containerID, err)
	}
	return nil
}

// Resume thaws a paused container.
func (s *Sandbox) Resume(ctx context.Context, containerID string) error {
	s.lifecycle.Lock()
	defer s.lifecycle.Unlock()
	svc, _, err := s.live("resume", containerID)
	if err != nil {
		return err
	}
	if _, err := svc.ResumeContainer(ctx, &agent.ContainerRequest{ContainerId: containerID}); err != nil {
		return fmt.Errorf("resume container %s: %w", containerID, err)
	}
	return nil
}

// Update applies new resources: the domain's memory, vCPUs and
// scheduling, the guest cgroup's limits, and the shares' I/O limits. Fields
// the guest cannot honour are refused (naming them) before anything
// changes. When memory shrinks the cgroup goes first, when it grows the
// domain does, so the container's limit never exceeds what the domain
// has.
func (s *Sandbox) Update(ctx context.Context, containerID string, r *specs.LinuxResources) error {
	s.lifecycle.Lock()
	defer s.lifecycle.Unlock()
	svc, c, err := s.live("update", containerID)
	if err != nil {
		return err
	}
	u, err := ocispec.TranslateUpdate(r, s.cfg.Settings, c.annotations)
	if err != nil {
		return fmt.Errorf("update container %s: %w", containerID, err)
	}
	for _, n := range u.Notes {
		s.logger.WithField("container", containerID).Info(n)
	}
	res := xen.Resources{
		MemoryMiB:   u.Shape.MemoryMiB,
		VCPUs:       u.Shape.VCPUs,
		CPUWeight:   u.Shape.CPUWeight,
		CPUAffinity: u.Shape.CPUAffinity,
	}
	if r.CPU != nil && r.CPU.Quota != nil {
		capPct := u.Shape.CPUCap // 0 for no quota: the cap goes
		res.CPUCap = &capPct
	}
	guest, err := json.Marshal(u.Resources)
	if err != nil {
		return fmt.Errorf("update container %s: encode resources: %w", containerID, err)
	}
	updateGuest := func() error {
		if _, err := svc.UpdateResources(ctx, &agent.UpdateResourcesRequest{ContainerId: containerID, Resources: guest}); err != nil {
			return fmt.Errorf("update container %s in the guest: %w", containerID, err)
		}
		return nil
	}
	resize := func() error {
		if res == (xen.Resources{}) {
			return nil
		}
		if err := s.ts.Resize(ctx, s.domid, res); err != nil {
			return fmt.Errorf("update container %s: %w", containerID, err)
		}
		if res.MemoryMiB > 0 {
			s.memoryMiB = res.MemoryMiB
		}
		return nil
	}
	steps := []func() error{resize, updateGuest}
	if res.MemoryMiB > 0 && res.MemoryMiB < s.memoryMiB {
		steps = []func() error{updateGuest, resize}
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return err
		}
	}
	if u.IOLimits != nil {
		for _, tag := range c.tags {
			if err := s.shares.SetLimits(tag, *u.IOLimits); err != nil {
				return fmt.Errorf("update container %s: I/O limits of share %q: %w", containerID, tag, err)
			}
		}
	}
	return nil
}
