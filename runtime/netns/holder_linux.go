package netns

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/containerd/log"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

const (
	// startTimeout bounds the holder's start when the caller's context
	// has no deadline: it is our own program doing one setns.
	startTimeout = 10 * time.Second
	// closeTimeout bounds Close's wait for a killed holder to be reaped.
	closeTimeout = 10 * time.Second
	// maxStatus bounds what is read from the holder's status pipe.
	maxStatus = 4096
)

// Holder is a host process parked in a container's network namespace. Its
// PID is the task's PID: the pid in the OCI state given to hooks, the pid
// containerd and Docker 28 read /proc/<pid>/ns/net from.
type Holder struct {
	id   string
	mode Mode
	path string
	cmd  *exec.Cmd
	// lifeline is the write end of the pipe the holder waits on.
	lifeline *os.File

	done chan struct{}
	err  error // set before done is closed

	closeOnce sync.Once
	closeErr  error
}

// options are the two independent ways a holder dies with its parent.
// Only tests turn them off, to make an orphan for Cleanup.
type options struct {
	noPdeathsig bool
	noLifeline  bool
}

var testOptions options

// NewHolder starts the holder for the container id: in the network
// namespace spec.linux.namespaces names by path, in a new one when the
// network entry has no path, and in the host's when there is no network
// entry (see the package doc). When it returns, /proc/<Pid()>/ns/net is
// that namespace. Any error leaves no process behind.
func NewHolder(ctx context.Context, id string, spec *specs.Spec) (*Holder, error) {
	if err := checkID(id); err != nil {
		return nil, err
	}
	plan, err := PlanFor(spec)
	if err != nil {
		return nil, fmt.Errorf("network namespace for %s: %w", id, err)
	}
	h, err := start(ctx, id, plan, testOptions)
	if err != nil {
		return nil, fmt.Errorf("network namespace holder for %s (%s): %w", id, plan.Mode, err)
	}
	log.G(ctx).WithFields(log.Fields{"id": id, "pid": h.Pid(), "mode": plan.Mode, "netns": h.path}).
		Debug("network namespace holder started")
	return h, nil
}

func start(ctx context.Context, id string, plan Plan, opt options) (_ *Holder, retErr error) {
	// Everything opened here is closed on return; what the holder keeps
	// has been duplicated into it by the fork.
	var toClose []*os.File
	defer func() {
		for _, f := range toClose {
			f.Close()
		}
	}()

	var target *os.File
	if plan.Mode == ModeJoin {
		f, err := openNetNS(plan.Path)
		if err != nil {
			return nil, err
		}
		toClose = append(toClose, f)
		target = f
	}
	lifeR, lifeW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("lifeline pipe: %w", err)
	}
	toClose = append(toClose, lifeR)
	defer func() {
		if retErr != nil {
			lifeW.Close()
		}
	}()
	statR, statW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("status pipe: %w", err)
	}
	toClose = append(toClose, statR, statW)

	files := []*os.File{lifeR, statW} // fds 3 and 4
	env := []string{
		envID + "=" + id,
		envParent + "=" + strconv.Itoa(os.Getpid()),
		// The holder only waits: one P is plenty and keeps its threads few.
		"GOMAXPROCS=1",
	}
	if target != nil {
		files = append(files, target) // fd 5
		env = append(env, envJoin+"=1")
	}
	if opt.noLifeline {
		// The holder keeps a write end itself, so it never sees EOF.
		files = append(files, lifeW)
	}
	attr := &syscall.SysProcAttr{}
	if !opt.noPdeathsig {
		attr.Pdeathsig = syscall.SIGKILL
	}
	if plan.Mode == ModeCreate {
		attr.Cloneflags = syscall.CLONE_NEWNET
	}
	cmd := &exec.Cmd{
		// The shim binary itself, even if it was replaced on disk since:
		// /proc/self/exe is the running inode. Its init recognises argv[0].
		Path:       "/proc/self/exe",
		Args:       []string{holderArgv0, id},
		Env:        env,
		Dir:        "/", // pin no directory (the bundle, a mount point) as its cwd
		ExtraFiles: files,
		// Stdin, Stdout, Stderr nil: /dev/null, so the holder never keeps
		// a pipe of the shim's (containerd waits for EOF on them) open.
		SysProcAttr: attr,
	}
	if err := startOnForker(cmd); err != nil {
		return nil, fmt.Errorf("start: %w", err)
	}
	h := &Holder{id: id, mode: plan.Mode, cmd: cmd, lifeline: lifeW, done: make(chan struct{})}
	go h.wait()
	defer func() {
		if retErr != nil {
			h.kill()
		}
	}()
	// Our copy of the status write end must go, or the read below would
	// never see EOF if the holder died without reporting.
	statW.Close()

	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, startTimeout)
		defer cancel()
	}
	if err := h.awaitReady(ctx, statR); err != nil {
		return nil, err
	}
	switch plan.Mode {
	case ModeJoin:
		h.path = plan.Path
	case ModeCreate:
		h.path = h.procPath()
	}
	err = checkNetNS(plan.Mode, target, h.procPath())
	if err != nil {
		return nil, fmt.Errorf("holder %d not in the expected namespace: %w", h.Pid(), err)
	}
	return h, nil
}

// awaitReady reads the holder's status: readyMsg once it sits in its
// namespace, or why it could not get there.
func (h *Holder) awaitReady(ctx context.Context, statR *os.File) error {
	type result struct {
		msg []byte
		err error
	}
	res := make(chan result, 1)
	go func() {
		b, err := io.ReadAll(io.LimitReader(statR, maxStatus))
		res <- result{b, err}
	}()
	select {
	case r := <-res:
		switch {
		case r.err != nil:
			return fmt.Errorf("read holder status: %w", r.err)
		case string(r.msg) == readyMsg:
			return nil
		case len(r.msg) > 0:
			return fmt.Errorf("holder could not start: %s", r.msg)
		}
		select {
		case <-h.done:
			return fmt.Errorf("holder exited before it was ready: %w", h.err)
		case <-ctx.Done():
			return fmt.Errorf("holder closed its status without a word: %w", ctx.Err())
		}
	case <-ctx.Done():
		h.kill() // its status end closes with it, which ends the reader
		<-res
		return fmt.Errorf("holder not ready: %w", ctx.Err())
	}
}

func (h *Holder) wait() {
	err := h.cmd.Wait()
	if err == nil {
		err = errors.New("exited")
	}
	h.err = fmt.Errorf("network namespace holder %d for %s: %w", h.cmd.Process.Pid, h.id, err)
	close(h.done)
}

// kill ends the holder and waits until it is reaped.
func (h *Holder) kill() error {
	h.lifeline.Close()
	err := h.cmd.Process.Kill()
	if errors.Is(err, os.ErrProcessDone) {
		err = nil
	}
	select {
	case <-h.done:
		return err
	case <-time.After(closeTimeout):
		return errors.Join(err, fmt.Errorf("holder %d not gone %v after SIGKILL", h.Pid(), closeTimeout))
	}
}

// Pid is the holder's host PID.
func (h *Holder) Pid() int { return h.cmd.Process.Pid }

// Mode says whether the holder joined, created or stayed in the host's
// network namespace.
func (h *Holder) Mode() Mode { return h.mode }

// NetNSPath names the container's network namespace: the spec's path when
// the holder joined one, /proc/<pid>/ns/net (valid while the holder lives)
// when it created one, and "" when the container uses the host's network,
// which is nothing for anyone to configure.
func (h *Holder) NetNSPath() string { return h.path }

// Done is closed when the holder process has exited, after Close or
// because something killed it (then the namespace it created is gone
// unless another reference, such as Docker's bind mount, keeps it).
func (h *Holder) Done() <-chan struct{} { return h.done }

// Err says how the holder ended, after Done.
func (h *Holder) Err() error {
	select {
	case <-h.done:
		return h.err
	default:
		return nil
	}
}

// Close kills the holder and reaps it. It is idempotent. The holder made
// no mount and no file, so that is all there is to undo.
func (h *Holder) Close() error {
	h.closeOnce.Do(func() {
		h.closeErr = h.kill()
		if h.closeErr != nil {
			h.closeErr = fmt.Errorf("close network namespace holder for %s: %w", h.id, h.closeErr)
		}
	})
	return h.closeErr
}

func (h *Holder) procPath() string {
	return "/proc/" + strconv.Itoa(h.Pid()) + "/ns/net"
}
