package task

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	eventstypes "github.com/containerd/containerd/api/events"
	taskv3 "github.com/containerd/containerd/api/runtime/task/v3"
	"github.com/containerd/containerd/v2/core/mount"
	"github.com/containerd/errdefs"
	"github.com/containerd/log"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/runxen/runxen/shim/bundle"
	"github.com/runxen/runxen/shim/hooks"
	"github.com/runxen/runxen/shim/stdio"
)

// sandboxIDFor picks the sandbox a new container runs in. Today every
// container is its own sandbox. A pod issue will read the sandbox
// annotation (io.kubernetes.cri.sandbox-id and the like) here, and the
// manager will route the pod's containers to one shim by the same key.
func sandboxIDFor(id string, _ *specs.Spec) string { return id }

func (s *Service) create(ctx context.Context, r *taskv3.CreateTaskRequest) (_ *taskv3.CreateTaskResponse, retErr error) {
	if r.ID == "" {
		return nil, fmt.Errorf("create: empty container ID: %w", errdefs.ErrInvalidArgument)
	}
	if r.Checkpoint != "" || r.ParentCheckpoint != "" {
		return nil, fmt.Errorf("create %s from a checkpoint: %w", r.ID, errdefs.ErrNotImplemented)
	}
	if !filepath.IsAbs(r.Bundle) {
		return nil, fmt.Errorf("create %s: bundle path %q is not absolute: %w", r.ID, r.Bundle, errdefs.ErrInvalidArgument)
	}
	opts, err := parseOptions(r.Options)
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", r.ID, err)
	}
	if err := s.reserve(r.ID); err != nil {
		return nil, err
	}
	defer s.unreserve(r.ID)

	spec, err := bundle.ReadSpec(r.Bundle)
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", r.ID, err)
	}
	if spec.Process.Terminal != r.Terminal {
		return nil, fmt.Errorf("create %s: the request's terminal (%v) and the spec's process.terminal (%v) disagree: %w",
			r.ID, r.Terminal, spec.Process.Terminal, errdefs.ErrInvalidArgument)
	}
	c := &container{
		id:       r.ID,
		bundle:   r.Bundle,
		spec:     spec,
		rootfs:   r.Rootfs,
		execs:    make(map[string]*process),
		execIdle: make(chan struct{}),
	}
	rec := bundle.Record{
		Namespace: s.env.Namespace, ID: r.ID, SandboxID: sandboxIDFor(r.ID, spec),
		ConfigPath: opts.ConfigPath, ConfigBody: opts.ConfigBody,
	}
	// undo tears down what was set up, in reverse, if Create fails.
	var undo []func()
	defer func() {
		if retErr == nil {
			return
		}
		for i := len(undo) - 1; i >= 0; i-- {
			undo[i]()
		}
	}()

	rootfsDir := bundle.RootfsDir(r.Bundle, spec)
	mountAt := ""
	if len(r.Rootfs) > 0 {
		if filepath.IsAbs(spec.Root.Path) {
			// As with runc: the spec's absolute root wins and the mounts
			// are not needed (Docker mounts the image itself).
			log.G(ctx).WithField("id", r.ID).Debugf("spec names root %s: rootfs mounts not mounted", spec.Root.Path)
		} else {
			mountAt = bundle.MountDir(r.Bundle)
			rec.Mounted = mountAt
		}
	}
	// Recorded before anything is made (the mount as an intent): a shim
	// that dies from here on leaves what `delete` needs to clean up, and
	// a bundle without a record holds nothing to clean.
	if err := bundle.WriteRecord(r.Bundle, rec); err != nil {
		return nil, fmt.Errorf("create %s: %w", r.ID, err)
	}
	undo = append(undo, func() { bundle.RemoveRecord(r.Bundle) })
	if mountAt != "" {
		if err := os.Mkdir(mountAt, 0o711); err != nil && !errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("create %s: rootfs mount point: %w", r.ID, err)
		}
		if err := s.env.Mount(mount.FromProto(r.Rootfs), mountAt); err != nil {
			return nil, fmt.Errorf("create %s: mount rootfs at %s: %w", r.ID, mountAt, err)
		}
		c.mounted = mountAt
		undo = append(undo, func() {
			if err := s.env.Unmount(mountAt); err != nil {
				log.G(ctx).WithError(err).WithField("id", r.ID).Error("unmount rootfs after a failed create")
			}
		})
	}
	if fi, err := os.Stat(rootfsDir); err != nil || !fi.IsDir() {
		if err == nil {
			err = errors.New("not a directory")
		}
		return nil, fmt.Errorf("create %s: root %s: %v: %w", r.ID, rootfsDir, err, errdefs.ErrInvalidArgument)
	}

	cfg := stdio.Config{Stdin: r.Stdin, Stdout: r.Stdout, Stderr: r.Stderr, Terminal: r.Terminal}
	pio, err := stdio.Open(ctx, cfg, stdio.Owner{Namespace: s.env.Namespace, ContainerID: r.ID})
	if err != nil {
		return nil, fmt.Errorf("create %s: stdio: %w", r.ID, err)
	}
	undo = append(undo, func() { pio.Close() })

	h, err := s.env.NewHolder(ctx, r.ID, spec)
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", r.ID, err)
	}
	c.holder, c.pid = h, uint32(h.Pid())
	rec.HolderPid = h.Pid()
	undo = append(undo, func() {
		if err := h.Close(); err != nil {
			log.G(ctx).WithError(err).WithField("id", r.ID).Error("close network namespace holder after a failed create")
		}
	})

	if err := bundle.WriteRecord(r.Bundle, rec); err != nil {
		return nil, fmt.Errorf("create %s: %w", r.ID, err)
	}

	if spec.Hooks != nil {
		//lint:ignore SA1019 prestart is deprecated but Docker 26 wires networking through it
		pre := spec.Hooks.Prestart
		if len(pre) > 0 || len(spec.Hooks.CreateRuntime) > 0 {
			// Whatever the hooks set up (nerdctl's CNI) is undone by the
			// poststop hooks, run even when a hook failed (OCI lifecycle
			// step 12).
			undo = append(undo, func() { s.poststop(ctx, c) })
			// runc's order: prestart, then createRuntime.
			state := s.state(c, specs.StateCreating)
			if err := s.env.RunHooks(ctx, pre, state); err != nil {
				return nil, fmt.Errorf("create %s: prestart hook: %w", r.ID, err)
			}
			if err := s.env.RunHooks(ctx, spec.Hooks.CreateRuntime, state); err != nil {
				return nil, fmt.Errorf("create %s: createRuntime hook: %w", r.ID, err)
			}
		}
	}

	sb, err := s.env.NewSandbox(ctx, SandboxRequest{
		SandboxID:   rec.SandboxID,
		Namespace:   s.env.Namespace,
		ConfigPath:  opts.ConfigPath,
		ConfigBody:  opts.ConfigBody,
		ContainerID: r.ID,
		Bundle:      r.Bundle,
		Spec:        spec,
		RootfsDir:   rootfsDir,
		NetNSPath:   h.NetNSPath(),
		Terminal:    r.Terminal,
		Stdin:       r.Stdin != "",
	})
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", r.ID, err)
	}
	undo = append(undo, func() {
		if err := sb.Destroy(context.WithoutCancel(ctx)); err != nil {
			log.G(ctx).WithError(err).WithField("id", r.ID).Error("destroy sandbox after a failed create")
		}
	})
	rec.Domain = sb.DomainName()
	if err := bundle.WriteRecord(r.Bundle, rec); err != nil {
		return nil, fmt.Errorf("create %s: %w", r.ID, err)
	}

	c.init = newProcess(c, "", pio)
	ref := &sandboxRef{id: rec.SandboxID, sb: sb, containers: map[string]*container{r.ID: c}}
	c.sb = ref
	s.mu.Lock()
	s.containers[r.ID] = c
	s.sandboxes[ref.id] = ref
	s.mu.Unlock()

	pio.Start(sb.Agent(), r.ID, "")
	go s.monitor(c.init)
	s.watchOOM(ref)

	s.env.Events.Send(&eventstypes.TaskCreate{
		ContainerID: r.ID,
		Bundle:      r.Bundle,
		Rootfs:      r.Rootfs,
		IO:          &eventstypes.TaskIO{Stdin: r.Stdin, Stdout: r.Stdout, Stderr: r.Stderr, Terminal: r.Terminal},
		Pid:         c.pid,
	})
	log.G(ctx).WithFields(log.Fields{"id": r.ID, "domain": rec.Domain, "pid": c.pid}).Info("container created")
	return &taskv3.CreateTaskResponse{Pid: c.pid}, nil
}

// reserve claims a container ID for a Create in progress.
func (s *Service) reserve(id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.containers[id]; ok || s.reserved[id] {
		return fmt.Errorf("container %s: %w", id, errdefs.ErrAlreadyExists)
	}
	s.reserved[id] = true
	return nil
}

func (s *Service) unreserve(id string) {
	s.mu.Lock()
	delete(s.reserved, id)
	s.mu.Unlock()
}

// state is the OCI state hooks get: the pid is the holder's, whose
// /proc/<pid>/ns/net is the container's network namespace.
func (s *Service) state(c *container, st specs.ContainerState) *specs.State {
	return hooks.NewState(c.id, st, int(c.pid), c.bundle, c.spec.Annotations)
}

// poststop runs the poststop hooks; as the OCI runtime spec asks, a
// failure is logged and the rest of the deletion goes on.
func (s *Service) poststop(ctx context.Context, c *container) {
	if c.spec.Hooks == nil || len(c.spec.Hooks.Poststop) == 0 {
		return
	}
	if err := s.env.RunAllHooks(context.WithoutCancel(ctx), c.spec.Hooks.Poststop, s.state(c, specs.StateStopped)); err != nil {
		log.G(ctx).WithError(err).WithField("id", c.id).Warn("poststop hook failed")
	}
}
