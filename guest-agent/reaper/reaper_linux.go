//go:build linux

package reaper

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"sync"
	"time"

	runc "github.com/containerd/go-runc"
	"github.com/containerd/log"
	"golang.org/x/sys/unix"
)

// Exit is a child that exited.
type Exit struct {
	Pid    int
	Status int // exit code, or 128+signal
	Time   time.Time
}

// Reaper collects exited children; see the package doc.
type Reaper struct {
	onExit func(Exit)

	mu   sync.Mutex
	cmds map[int]chan runc.Exit // commands started through Start; guarded by mu
}

var _ runc.ProcessMonitor = (*Reaper)(nil)

// New returns a reaper that passes exits of children not started through
// Start to onExit, in the order they were collected, from the goroutine
// that reaps. onExit must not block for long, and must not wait for a
// command started through Start (that would deadlock the reaper).
func New(onExit func(Exit)) *Reaper {
	return &Reaper{onExit: onExit, cmds: map[int]chan runc.Exit{}}
}

// SetChildSubreaper makes the calling process inherit its orphaned
// descendants, as PID 1 does: for running the agent as a normal process
// (tests, development).
func SetChildSubreaper() error {
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("set child subreaper: %w", err)
	}
	return nil
}

// Run reaps on every SIGCHLD until ctx ends.
func (r *Reaper) Run(ctx context.Context) {
	ch := make(chan os.Signal, 32)
	signal.Notify(ch, unix.SIGCHLD)
	defer signal.Stop(ch)
	r.Reap() // children that exited before we listened
	for {
		select {
		case <-ch:
			r.Reap()
		case <-ctx.Done():
			return
		}
	}
}

// Reap collects every child that has exited, without blocking.
func (r *Reaper) Reap() {
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil || pid <= 0 {
			if err != nil && !errors.Is(err, unix.ECHILD) {
				log.L.WithError(err).Error("reaper: wait4")
			}
			return
		}
		if ws.Stopped() || ws.Continued() {
			continue // not an exit (we do not ask for these, but be safe)
		}
		e := Exit{Pid: pid, Status: ExitStatus(ws), Time: time.Now()}
		r.mu.Lock()
		ec, ours := r.cmds[pid]
		delete(r.cmds, pid)
		r.mu.Unlock()
		if ours {
			ec <- runc.Exit{Pid: e.Pid, Status: e.Status, Timestamp: e.Time} // capacity 1, one send
			continue
		}
		if r.onExit != nil {
			r.onExit(e)
		}
	}
}

// ExitStatus converts a wait status to the shell convention.
func ExitStatus(ws unix.WaitStatus) int {
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}

// Start starts c and registers it, so that Reap gives its exit to Wait.
func (r *Reaper) Start(c *exec.Cmd) (chan runc.Exit, error) {
	ec := make(chan runc.Exit, 1)
	// Holding the lock across Start: if the child exits before it is
	// registered, Reap collects it but blocks on the lock until it is.
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := c.Start(); err != nil {
		return nil, err
	}
	r.cmds[c.Process.Pid] = ec
	return ec, nil
}

// StartLocked is Start from a goroutine locked to its OS thread until the
// command exits, for commands whose parent thread matters to them
// (Pdeathsig).
func (r *Reaper) StartLocked(c *exec.Cmd) (chan runc.Exit, error) {
	started := make(chan error, 1)
	out := make(chan runc.Exit, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		ec, err := r.Start(c)
		started <- err
		if err == nil {
			out <- <-ec
		}
	}()
	if err := <-started; err != nil {
		return nil, err
	}
	return out, nil
}

// Wait waits for the exit of c, started by Start or StartLocked, and
// returns its status.
func (r *Reaper) Wait(c *exec.Cmd, ec chan runc.Exit) (int, error) {
	e := <-ec
	// The process is already reaped, so this only waits for exec.Cmd's
	// copying goroutines (when stdio are not files) and releases its
	// resources; its error (ECHILD from waitid) is expected.
	_ = c.Wait()
	return e.Status, nil
}

// Command runs c through the reaper and returns its combined output: for
// the agent's own commands outside go-runc.
func (r *Reaper) Command(c *exec.Cmd) ([]byte, error) {
	var out lockedBuffer
	c.Stdout, c.Stderr = &out, &out
	ec, err := r.Start(c)
	if err != nil {
		return nil, err
	}
	status, _ := r.Wait(c, ec)
	if status != 0 {
		return out.Bytes(), fmt.Errorf("%s: exit status %d: %s", c.Path, status, out.Bytes())
	}
	return out.Bytes(), nil
}
