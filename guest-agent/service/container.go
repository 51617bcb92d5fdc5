package service

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/containerd/errdefs"
	"github.com/containerd/log"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"google.golang.org/protobuf/types/known/emptypb"

	agent "github.com/runxen/runxen/guest-agent/api/v1"
	"github.com/runxen/runxen/guest-agent/cgroup"
	"github.com/runxen/runxen/guest-agent/speccheck"
)

// maxListBytes bounds a ListProcesses reply (ttrpc's limit is 4 MiB), and
// maxCommandLen one command line in it.
const (
	maxListBytes  = 3 << 20
	maxCommandLen = 4096
)

func (s *Service) CreateContainer(ctx context.Context, req *agent.CreateContainerRequest) (*agent.CreateContainerResponse, error) {
	id := req.GetContainerId()
	if err := checkID("container_id", id); err != nil {
		return nil, err
	}
	if len(req.GetSpec()) == 0 {
		return nil, fmt.Errorf("spec is empty: %w", errdefs.ErrInvalidArgument)
	}
	if err := checkSize("spec", len(req.GetSpec()), MaxSpecSize); err != nil {
		return nil, err
	}
	var spec specs.Spec
	if err := json.Unmarshal(req.GetSpec(), &spec); err != nil {
		return nil, fmt.Errorf("spec is not OCI runtime spec JSON: %v: %w", err, errdefs.ErrInvalidArgument)
	}
	notes, err := speccheck.Spec(&spec, s.cfg.Caps)
	if err != nil {
		return nil, fmt.Errorf("container %q: %w", id, err)
	}
	if spec.Process.Terminal != req.GetTerminal() {
		return nil, fmt.Errorf("process.terminal is %v but the request's terminal is %v: %w", spec.Process.Terminal, req.GetTerminal(), errdefs.ErrInvalidArgument)
	}
	logger := log.G(ctx).WithField("container", id)
	for _, n := range notes {
		logger.Info(n)
	}
	cg := s.cgroupDir(id)
	if want := "/" + cgroupParent + "/" + id; spec.Linux.CgroupsPath != want {
		logger.Debugf("cgroupsPath %q replaced by %q", spec.Linux.CgroupsPath, want)
		spec.Linux.CgroupsPath = want
	}

	c := &container{
		id:             id,
		bundle:         filepath.Join(s.cfg.BundleDir, id),
		cgroup:         cg,
		spec:           &spec,
		poweroffOnExit: req.GetPoweroffOnExit(),
		activity:       make(chan struct{}, 1),
		execs:          map[string]*process{},
		removed:        make(chan struct{}),
	}
	ioc := IOConfig{
		Terminal: req.GetTerminal(),
		Stdin:    req.GetStdin(),
		UID:      mapID(spec.Process.User.UID, spec.Linux.UIDMappings),
		GID:      mapID(spec.Process.User.GID, spec.Linux.GIDMappings),
	}
	c.init = newProcess(c, "", spec.Process, ioc, pCreated)

	// Reserve the ID; the lifecycle lock keeps every other command off the
	// container until it exists.
	c.lifecycle.Lock()
	defer c.lifecycle.Unlock()
	s.mu.Lock()
	switch {
	case s.shuttingDown:
		s.mu.Unlock()
		return nil, fmt.Errorf("the guest is shutting down: %w", errdefs.ErrFailedPrecondition)
	case s.containers[id] != nil:
		s.mu.Unlock()
		return nil, fmt.Errorf("container %q: %w", id, errdefs.ErrAlreadyExists)
	}
	c.creating = true // invisible to lookups until created
	s.containers[id] = c
	s.mu.Unlock()

	pid, err := s.create(ctx, c, ioc)
	s.mu.Lock()
	if err != nil {
		delete(s.containers, id)
		s.mu.Unlock()
		os.RemoveAll(c.bundle)
		return nil, err
	}
	c.creating = false
	s.mu.Unlock()
	if s.cfg.OOM != nil {
		if err := s.cfg.OOM.Add(id, cg); err != nil {
			logger.WithError(err).Warn("no OOM events for this container")
		}
	}
	logger.WithField("pid", pid).Info("container created")
	return &agent.CreateContainerResponse{Pid: uint32(pid)}, nil
}

// create writes the bundle and runs the runtime's create.
func (s *Service) create(ctx context.Context, c *container, ioc IOConfig) (int, error) {
	if err := os.MkdirAll(c.bundle, 0o700); err != nil {
		return 0, fmt.Errorf("create bundle %s: %w", c.bundle, err)
	}
	data, err := json.Marshal(c.spec)
	if err != nil {
		return 0, fmt.Errorf("marshal spec: %w", err)
	}
	// 0600: the environment may hold secrets.
	if err := os.WriteFile(filepath.Join(c.bundle, "config.json"), data, 0o600); err != nil {
		return 0, fmt.Errorf("write config.json: %w", err)
	}
	rctx, cancel := s.commandContext(ctx)
	defer cancel()
	s.beginStart()
	pid, pio, err := s.rt.Create(rctx, c.id, c.bundle, ioc)
	if err != nil {
		s.endStart(nil, 0, 0)
		return 0, fmt.Errorf("create container %q: %w", c.id, err)
	}
	s.attachIO(c.init, pio)
	s.endStart(c.init, pid, pCreated)
	return pid, nil
}

// mapID maps a container UID or GID to the agent's view through a user
// namespace's mappings (identity without mappings).
func mapID(id uint32, maps []specs.LinuxIDMapping) int {
	if len(maps) == 0 {
		return int(id)
	}
	for _, m := range maps {
		if id >= m.ContainerID && uint64(id) < uint64(m.ContainerID)+uint64(m.Size) {
			return int(m.HostID + (id - m.ContainerID))
		}
	}
	return int(id) // unmapped: runc will refuse the spec anyway
}

func (s *Service) StartContainer(ctx context.Context, req *agent.StartContainerRequest) (*emptypb.Empty, error) {
	if _, err := s.startInit(ctx, req.GetContainerId()); err != nil {
		return nil, err
	}
	return &emptypb.Empty{}, nil
}

func (s *Service) startInit(ctx context.Context, id string) (int, error) {
	c, err := s.lookup(id)
	if err != nil {
		return 0, err
	}
	c.lifecycle.Lock()
	defer c.lifecycle.Unlock()
	s.mu.Lock()
	if c.removing || c.init.state != pCreated {
		st := c.status()
		s.mu.Unlock()
		return 0, fmt.Errorf("cannot start container %q: it is %s: %w", id, st, errdefs.ErrFailedPrecondition)
	}
	s.mu.Unlock()
	rctx, cancel := s.commandContext(ctx)
	defer cancel()
	if err := s.rt.Start(rctx, id); err != nil {
		return 0, fmt.Errorf("start container %q: %w", id, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.init.state == pCreated {
		c.init.state = pRunning
	}
	log.G(ctx).WithField("container", id).Info("container started")
	return c.init.pid, nil
}

func (s *Service) RemoveContainer(ctx context.Context, req *agent.RemoveContainerRequest) (*emptypb.Empty, error) {
	id := req.GetContainerId()
	c, err := s.lookup(id)
	if err != nil {
		return nil, err
	}
	c.lifecycle.Lock()
	defer c.lifecycle.Unlock()
	s.mu.Lock()
	if c.removing {
		s.mu.Unlock()
		return nil, fmt.Errorf("container %q: %w", id, errdefs.ErrNotFound)
	}
	c.removing = true // new calls see NotFound from here on
	s.mu.Unlock()

	rctx, cancel := s.commandContext(ctx)
	defer cancel()
	if err := s.rt.Delete(rctx, id); err != nil {
		// A delete can fail while processes still die; kill everything
		// and try once more before giving up.
		log.G(ctx).WithError(err).WithField("container", id).Warn("delete failed; killing and retrying")
		_ = s.rt.Kill(rctx, id, syscall.SIGKILL, true)
		select {
		case <-c.init.exited:
		case <-time.After(time.Second):
		}
		if err2 := s.rt.Delete(rctx, id); err2 != nil {
			s.mu.Lock()
			c.removing = false
			s.mu.Unlock()
			return nil, fmt.Errorf("remove container %q: %w", id, err2)
		}
	}
	if s.cfg.OOM != nil {
		s.cfg.OOM.Remove(id)
	}

	// The container is gone: release everything still waiting on it.
	now := time.Now()
	s.mu.Lock()
	procs := []*process{c.init}
	for _, p := range c.execs {
		procs = append(procs, p)
	}
	for _, p := range procs {
		if p.state != pExited {
			if p.pid > 0 {
				delete(s.byPid, p.pid)
			}
			// runc delete --force killed it with SIGKILL; its own exit is
			// no longer ours to report.
			s.markExitedLocked(p, 128+int(syscall.SIGKILL), now)
		}
		select {
		case <-p.started:
		default:
			close(p.started)
		}
	}
	delete(s.containers, id)
	close(c.removed)
	s.mu.Unlock()
	for _, p := range procs {
		p.stdout.Discard()
		p.stderr.Discard()
		s.mu.Lock()
		pio := p.pio
		p.pio = ProcessIO{}
		s.mu.Unlock()
		pio.Close()
	}
	if err := os.RemoveAll(c.bundle); err != nil {
		log.G(ctx).WithError(err).Warn("remove bundle")
	}
	log.G(ctx).WithField("container", id).Info("container removed")
	return &emptypb.Empty{}, nil
}

func (s *Service) PauseContainer(ctx context.Context, req *agent.ContainerRequest) (*emptypb.Empty, error) {
	return s.setPaused(ctx, req.GetContainerId(), true)
}

func (s *Service) ResumeContainer(ctx context.Context, req *agent.ContainerRequest) (*emptypb.Empty, error) {
	return s.setPaused(ctx, req.GetContainerId(), false)
}

func (s *Service) setPaused(ctx context.Context, id string, pause bool) (*emptypb.Empty, error) {
	c, err := s.lookup(id)
	if err != nil {
		return nil, err
	}
	c.lifecycle.Lock()
	defer c.lifecycle.Unlock()
	s.mu.Lock()
	st := c.status()
	ok := pause && st == "running" || !pause && st == "paused"
	s.mu.Unlock()
	verb := map[bool]string{true: "pause", false: "resume"}[pause]
	if !ok {
		return nil, fmt.Errorf("cannot %s container %q: it is %s: %w", verb, id, st, errdefs.ErrFailedPrecondition)
	}
	rctx, cancel := s.commandContext(ctx)
	defer cancel()
	op := s.rt.Resume
	if pause {
		op = s.rt.Pause
	}
	if err := op(rctx, id); err != nil {
		return nil, fmt.Errorf("%s container %q: %w", verb, id, err)
	}
	s.mu.Lock()
	c.paused = pause
	s.mu.Unlock()
	return &emptypb.Empty{}, nil
}

func (s *Service) UpdateResources(ctx context.Context, req *agent.UpdateResourcesRequest) (*emptypb.Empty, error) {
	id := req.GetContainerId()
	if err := checkID("container_id", id); err != nil {
		return nil, err
	}
	if err := checkSize("resources", len(req.GetResources()), MaxResourcesSize); err != nil {
		return nil, err
	}
	var res specs.LinuxResources
	if err := json.Unmarshal(req.GetResources(), &res); err != nil {
		return nil, fmt.Errorf("resources are not OCI LinuxResources JSON: %v: %w", err, errdefs.ErrInvalidArgument)
	}
	if err := speccheck.Resources(&res, s.cfg.Caps); err != nil {
		return nil, err
	}
	c, err := s.lookup(id)
	if err != nil {
		return nil, err
	}
	c.lifecycle.Lock()
	defer c.lifecycle.Unlock()
	s.mu.Lock()
	st := c.status()
	s.mu.Unlock()
	if st == "stopped" {
		return nil, fmt.Errorf("cannot update container %q: it is stopped: %w", id, errdefs.ErrFailedPrecondition)
	}
	rctx, cancel := s.commandContext(ctx)
	defer cancel()
	if err := s.rt.Update(rctx, id, &res); err != nil {
		return nil, fmt.Errorf("update container %q: %w", id, err)
	}
	return &emptypb.Empty{}, nil
}

func (s *Service) Stats(ctx context.Context, req *agent.ContainerRequest) (*agent.StatsResponse, error) {
	c, err := s.lookup(req.GetContainerId())
	if err != nil {
		return nil, err
	}
	st, err := cgroup.ReadStats(c.cgroup)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("container %q has no cgroup: %w", c.id, errdefs.ErrFailedPrecondition)
	}
	if err != nil {
		return nil, fmt.Errorf("stats of container %q: %w", c.id, err)
	}
	return &agent.StatsResponse{
		CpuUsageUsec:   st.CPUUsageUsec,
		CpuUserUsec:    st.CPUUserUsec,
		CpuSystemUsec:  st.CPUSystemUsec,
		MemoryUsage:    st.MemoryUsage,
		MemoryLimit:    st.MemoryLimit,
		MemoryMaxUsage: st.MemoryMaxUsage,
		PidsCurrent:    st.PidsCurrent,
		PidsLimit:      st.PidsLimit,
		IoReadBytes:    st.IO.ReadBytes,
		IoWriteBytes:   st.IO.WriteBytes,
		IoReadOps:      st.IO.ReadOps,
		IoWriteOps:     st.IO.WriteOps,
		MemoryStat:     st.MemoryStat,
		OomKills:       st.OOMKills,
	}, nil
}

func (s *Service) ListProcesses(ctx context.Context, req *agent.ContainerRequest) (*agent.ListProcessesResponse, error) {
	c, err := s.lookup(req.GetContainerId())
	if err != nil {
		return nil, err
	}
	pids, err := cgroup.Procs(c.cgroup)
	if errors.Is(err, fs.ErrNotExist) {
		return &agent.ListProcessesResponse{}, nil // not created yet, or already deleted
	}
	if err != nil {
		return nil, fmt.Errorf("processes of container %q: %w", c.id, err)
	}
	execOf := map[int]string{}
	s.mu.Lock()
	for _, p := range append([]*process{c.init}, mapValues(c.execs)...) {
		if p.pid > 0 && p.state != pExited {
			execOf[p.pid] = p.execID
		}
	}
	s.mu.Unlock()
	resp := &agent.ListProcessesResponse{}
	size := 0
	for _, pid := range pids {
		cmd := s.commandLine(pid)
		size += len(cmd) + 16
		if size > maxListBytes {
			log.G(ctx).Warnf("ListProcesses: container %q has more processes than one reply holds; list truncated at %d", c.id, len(resp.Processes))
			break
		}
		resp.Processes = append(resp.Processes, &agent.ProcessInfo{Pid: uint32(pid), ExecId: execOf[pid], Command: cmd})
	}
	return resp, nil
}

// commandLine returns a process's command line, its NUL-separated
// arguments joined by spaces, or its name in brackets (as ps shows kernel
// threads and zombies) when it has none.
func (s *Service) commandLine(pid int) string {
	dir := filepath.Join(s.cfg.ProcRoot, strconv.Itoa(pid))
	data, err := readAtMost(filepath.Join(dir, "cmdline"), maxCommandLen)
	if err == nil {
		data = bytes.TrimRight(data, "\x00")
		if len(data) > 0 {
			return string(bytes.ReplaceAll(data, []byte{0}, []byte{' '}))
		}
	}
	comm, err := readAtMost(filepath.Join(dir, "comm"), 64)
	if err != nil {
		return ""
	}
	return "[" + string(bytes.TrimSpace(comm)) + "]"
}

func readAtMost(path string, n int) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	buf := make([]byte, n)
	k, err := f.Read(buf)
	if k > 0 {
		return buf[:k], nil
	}
	return nil, err
}

func mapValues[K comparable, V any](m map[K]V) []V {
	out := make([]V, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}
