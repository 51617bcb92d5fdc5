package task

import (
	"fmt"
	"sync"
	"time"

	"github.com/containerd/containerd/api/types"
	"github.com/containerd/containerd/api/types/task"
	"github.com/containerd/errdefs"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/runxen/runxen/shim/stdio"
)

// phase is a process's life: created, running, stopped. Paused is the
// container's, on top of running.
type phase int

const (
	created phase = iota
	running
	stopped
)

func (s phase) String() string {
	switch s {
	case created:
		return "created"
	case running:
		return "running"
	}
	return "stopped"
}

// process is a container's init (id "") or one of its execs.
type process struct {
	c  *container
	id string // exec ID; "" for the init
	io *stdio.IO

	// startMu is held by Start from the agent call until the start event
	// is queued; the exit path takes it before queuing the exit, so that
	// a process that exits at once still has its start event first.
	startMu sync.Mutex

	mu       sync.Mutex
	st       phase     // guarded by mu
	exitCode uint32    // guarded by mu
	exitedAt time.Time // guarded by mu
	// quiet: the process was deleted before it ran; its exit, if the
	// guest still reports one, is not published.
	quiet  bool          // guarded by mu
	exited chan struct{} // closed once the exit is recorded
}

func newProcess(c *container, id string, io *stdio.IO) *process {
	return &process{c: c, id: id, io: io, exited: make(chan struct{})}
}

func (p *process) name() string {
	if p.id == "" {
		return "container " + p.c.id
	}
	return fmt.Sprintf("exec %s of container %s", p.id, p.c.id)
}

func (p *process) phase() phase {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.st
}

// setExited records the exit once; then, with the process's lock still
// held, runs publish (which queues the exit event), so that anyone who
// sees the process stopped also finds its exit event queued before
// anything they publish. It reports whether this call recorded the exit.
func (p *process) setExited(code uint32, at time.Time, publish func(quiet bool)) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.st == stopped {
		return false
	}
	p.st, p.exitCode, p.exitedAt = stopped, code, at
	if publish != nil {
		publish(p.quiet)
	}
	close(p.exited)
	return true
}

func (p *process) exit() (uint32, time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.exitCode, p.exitedAt
}

// container is one container in a sandbox.
type container struct {
	id      string
	bundle  string
	spec    *specs.Spec
	sb      *sandboxRef
	holder  Holder
	pid     uint32 // the holder's PID: the task's and every exec's
	rootfs  []*types.Mount
	mounted string // where the shim mounted the rootfs, if it did
	init    *process

	mu sync.Mutex
	// execs by ID; guarded by mu
	execs map[string]*process
	// paused: guarded by mu
	paused bool
	// initExited: the init's exit came; no exec may start. Guarded by mu.
	initExited bool
	// runningExecs counts execs started and not yet exited; execIdle is
	// closed and replaced each time it drops. Guarded by mu.
	runningExecs int
	execIdle     chan struct{}
	// deleting: Delete of the init began. Guarded by mu.
	deleting bool
}

func (c *container) process(execID string) (*process, error) {
	if execID == "" {
		return c.init, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.execs[execID] // nil: an Exec in progress
	if p == nil {
		return nil, fmt.Errorf("exec %s of container %s: %w", execID, c.id, errdefs.ErrNotFound)
	}
	return p, nil
}

// execDone records that a started exec's exit was published.
func (c *container) execDone() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.runningExecs--
	close(c.execIdle)
	c.execIdle = make(chan struct{})
}

// stateStatus is the status containerd sees.
func (p *process) stateStatus() task.Status {
	st := p.phase()
	switch st {
	case created:
		return task.Status_CREATED
	case running:
		p.c.mu.Lock()
		paused := p.c.paused
		p.c.mu.Unlock()
		if paused {
			return task.Status_PAUSED
		}
		return task.Status_RUNNING
	}
	return task.Status_STOPPED
}
