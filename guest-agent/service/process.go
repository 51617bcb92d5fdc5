package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
	"time"

	"github.com/containerd/errdefs"
	"github.com/containerd/log"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/timestamppb"

	agent "github.com/runxen/runxen/guest-agent/api/v1"
	"github.com/runxen/runxen/guest-agent/speccheck"
	"github.com/runxen/runxen/guest-agent/stdio"
)

// attachIO wires a started process's stdio to its streams and stdin.
func (s *Service) attachIO(p *process, pio ProcessIO) {
	logger := log.L.WithField("container", p.c.id).WithField("exec", p.execID)
	// fill copies one output into its stream, then closes the agent's end:
	// the data is buffered, and a finished exec must not keep descriptors
	// (the agent is PID 1 with a few thousand of them at most).
	fill := func(st *stdio.Stream, r io.ReadCloser, what string) {
		go func() {
			if err := st.Fill(r); err != nil && !errors.Is(err, syscall.EIO) && !errors.Is(err, os.ErrClosed) {
				// EIO is how a pty master reports that the terminal hung up.
				logger.WithError(err).Debugf("%s ended", what)
			}
			r.Close()
		}()
	}
	var in *stdio.Input
	switch {
	case pio.Console != nil:
		fill(p.stdout, pio.Console, "terminal output")
		p.stderr.End() // a terminal has one output stream
		if p.ioc.Stdin {
			con := pio.Console
			in = stdio.NewInput(con, func() error { return writeEOF(con) })
		}
	default:
		if pio.Stdout != nil {
			fill(p.stdout, pio.Stdout, "stdout")
		} else {
			p.stdout.End()
		}
		if pio.Stderr != nil {
			fill(p.stderr, pio.Stderr, "stderr")
		} else {
			p.stderr.End()
		}
		if pio.Stdin != nil {
			in = stdio.NewInput(pio.Stdin, pio.Stdin.Close)
		}
	}
	s.mu.Lock()
	p.pio = pio
	p.stdin = in
	pending := p.closeStdinPending
	close(p.started)
	s.mu.Unlock()
	if pending && in != nil {
		in.Close()
	}
}

func (s *Service) ExecProcess(ctx context.Context, req *agent.ExecProcessRequest) (*agent.ExecProcessResponse, error) {
	id, execID := req.GetContainerId(), req.GetExecId()
	if err := checkID("container_id", id); err != nil {
		return nil, err
	}
	if err := checkID("exec_id", execID); err != nil {
		return nil, err
	}
	if len(req.GetProcess()) == 0 {
		return nil, fmt.Errorf("process is empty: %w", errdefs.ErrInvalidArgument)
	}
	if err := checkSize("process", len(req.GetProcess()), MaxProcessSize); err != nil {
		return nil, err
	}
	var proc specs.Process
	if err := json.Unmarshal(req.GetProcess(), &proc); err != nil {
		return nil, fmt.Errorf("process is not OCI Process JSON: %v: %w", err, errdefs.ErrInvalidArgument)
	}
	if err := speccheck.Process(&proc, s.cfg.Caps); err != nil {
		return nil, err
	}
	if proc.Terminal != req.GetTerminal() {
		return nil, fmt.Errorf("process.terminal is %v but the request's terminal is %v: %w", proc.Terminal, req.GetTerminal(), errdefs.ErrInvalidArgument)
	}
	c, err := s.lookup(id)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if st := c.status(); st == "stopped" || st == "being removed" {
		return nil, fmt.Errorf("cannot exec in container %q: it is %s: %w", id, st, errdefs.ErrFailedPrecondition)
	}
	if c.execs[execID] != nil {
		return nil, fmt.Errorf("exec %q of container %q: %w", execID, id, errdefs.ErrAlreadyExists)
	}
	ioc := IOConfig{
		Terminal: req.GetTerminal(),
		Stdin:    req.GetStdin(),
		UID:      mapID(proc.User.UID, c.spec.Linux.UIDMappings),
		GID:      mapID(proc.User.GID, c.spec.Linux.GIDMappings),
	}
	c.execs[execID] = newProcess(c, execID, &proc, ioc, pRegistered)
	return &agent.ExecProcessResponse{}, nil
}

func (s *Service) StartProcess(ctx context.Context, req *agent.ProcessRequest) (*agent.StartProcessResponse, error) {
	if req.GetExecId() == "" {
		pid, err := s.startInit(ctx, req.GetContainerId())
		if err != nil {
			return nil, err
		}
		return &agent.StartProcessResponse{Pid: uint32(pid)}, nil
	}
	c, p, err := s.lookupProcess(req.GetContainerId(), req.GetExecId())
	if err != nil {
		return nil, err
	}
	c.lifecycle.RLock()
	defer c.lifecycle.RUnlock()
	s.mu.Lock()
	switch {
	case p.state != pRegistered:
		st := p.state
		s.mu.Unlock()
		return nil, fmt.Errorf("cannot start %s: it is %s: %w", p.name(), st, errdefs.ErrFailedPrecondition)
	case c.removing || c.init.state == pExited || c.paused:
		st := c.status()
		s.mu.Unlock()
		return nil, fmt.Errorf("cannot start %s: the container is %s: %w", p.name(), st, errdefs.ErrFailedPrecondition)
	}
	p.state = pCreated // claimed: a concurrent start now fails above
	s.mu.Unlock()

	rctx, cancel := s.commandContext(ctx)
	defer cancel()
	s.beginStart()
	pid, pio, err := s.rt.Exec(rctx, c.id, p.execID, p.spec, p.ioc)
	if err != nil {
		s.endStart(nil, 0, 0)
		s.failExec(p)
		return nil, fmt.Errorf("start %s: %w", p.name(), err)
	}
	s.attachIO(p, pio)
	s.endStart(p, pid, pRunning)
	log.G(ctx).WithField("container", c.id).WithField("exec", p.execID).WithField("pid", pid).Debug("exec started")
	return &agent.StartProcessResponse{Pid: uint32(pid)}, nil
}

// failExec forgets an exec whose start failed, so its ID can be used
// again, and releases anyone waiting on it with status 255.
func (s *Service) failExec(p *process) {
	s.mu.Lock()
	if p.c.execs[p.execID] == p {
		delete(p.c.execs, p.execID)
	}
	s.markExitedLocked(p, 255, time.Now())
	close(p.started)
	s.mu.Unlock()
	p.stdout.End()
	p.stderr.End()
}

func (s *Service) SignalProcess(ctx context.Context, req *agent.SignalProcessRequest) (*emptypb.Empty, error) {
	sig := req.GetSignal()
	if sig == 0 || sig > MaxSignal {
		return nil, fmt.Errorf("signal %d is not a Linux signal (1-%d): %w", sig, MaxSignal, errdefs.ErrInvalidArgument)
	}
	c, p, err := s.lookupProcess(req.GetContainerId(), req.GetExecId())
	if err != nil {
		return nil, err
	}
	if p.execID != "" {
		// Under s.mu: the exit is recorded under it too, so the PID cannot
		// belong to another process yet (see reaper).
		s.mu.Lock()
		defer s.mu.Unlock()
		switch p.state {
		case pRegistered, pCreated:
			return nil, fmt.Errorf("cannot signal %s: it is not started: %w", p.name(), errdefs.ErrFailedPrecondition)
		case pExited:
			return nil, fmt.Errorf("%s: process already finished: %w", p.name(), errdefs.ErrNotFound)
		}
		if err := s.rt.Signal(p.pid, syscall.Signal(sig)); err != nil {
			return nil, fmt.Errorf("signal %s: %w", p.name(), err)
		}
		return &emptypb.Empty{}, nil
	}
	s.mu.Lock()
	exited := p.state == pExited
	s.mu.Unlock()
	if exited {
		return nil, fmt.Errorf("%s: process already finished: %w", p.name(), errdefs.ErrNotFound)
	}
	rctx, cancel := s.commandContext(ctx)
	defer cancel()
	if err := s.rt.Kill(rctx, c.id, syscall.Signal(sig), req.GetAll()); err != nil {
		// runc fails when the init has just exited; the reaper may report
		// that a moment after runc noticed.
		select {
		case <-p.exited:
			return nil, fmt.Errorf("%s: process already finished: %w", p.name(), errdefs.ErrNotFound)
		case <-time.After(100 * time.Millisecond):
		}
		return nil, fmt.Errorf("signal %s: %w", p.name(), err)
	}
	return &emptypb.Empty{}, nil
}

func (s *Service) WaitProcess(ctx context.Context, req *agent.ProcessRequest) (*agent.WaitProcessResponse, error) {
	c, p, err := s.lookupProcess(req.GetContainerId(), req.GetExecId())
	if err != nil {
		return nil, err
	}
	select {
	case <-p.exited:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	s.mu.Lock()
	p.waited = true
	resp := &agent.WaitProcessResponse{ExitStatus: uint32(p.status), ExitedAt: timestamppb.New(p.exitedAt)}
	s.pruneExecsLocked(c)
	s.mu.Unlock()
	c.poke()
	return resp, nil
}

func (s *Service) ResizePty(ctx context.Context, req *agent.ResizePtyRequest) (*emptypb.Empty, error) {
	w, h := req.GetWidth(), req.GetHeight()
	if w == 0 || h == 0 || w > 0xffff || h > 0xffff {
		return nil, fmt.Errorf("terminal size %dx%d: each must be 1-65535: %w", w, h, errdefs.ErrInvalidArgument)
	}
	_, p, err := s.lookupProcess(req.GetContainerId(), req.GetExecId())
	if err != nil {
		return nil, err
	}
	if !p.ioc.Terminal {
		// As containerd's runc shim: resizing a process without a terminal
		// is a no-op, not an error.
		return &emptypb.Empty{}, nil
	}
	s.mu.Lock()
	con, st := p.pio.Console, p.state
	s.mu.Unlock()
	if con == nil || st == pExited {
		return nil, fmt.Errorf("cannot resize %s: it is %s: %w", p.name(), st, errdefs.ErrFailedPrecondition)
	}
	if err := setWinsize(con, uint16(w), uint16(h)); err != nil {
		return nil, fmt.Errorf("resize %s: %w", p.name(), err)
	}
	return &emptypb.Empty{}, nil
}

// stdinOf waits until p's stdio is attached and returns its stdin.
func (s *Service) stdinOf(ctx context.Context, p *process) (*stdio.Input, error) {
	if !p.ioc.Stdin {
		return nil, fmt.Errorf("%s has no stdin (it reads /dev/null): %w", p.name(), errdefs.ErrFailedPrecondition)
	}
	select {
	case <-p.started:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if p.stdin == nil || p.state == pExited {
		return nil, fmt.Errorf("%s has exited: %w", p.name(), errdefs.ErrFailedPrecondition)
	}
	return p.stdin, nil
}

// WriteStdin writes to a process's stdin, waiting for the process to start
// if it has not yet (so the host may start copying stdin before
// StartProcess). It may write less than asked when ctx ends; it fails only
// if nothing was written.
func (s *Service) WriteStdin(ctx context.Context, req *agent.WriteStdinRequest) (*agent.WriteStdinResponse, error) {
	if err := checkSize("data", len(req.GetData()), MaxStdinWrite); err != nil {
		return nil, err
	}
	_, p, err := s.lookupProcess(req.GetContainerId(), req.GetExecId())
	if err != nil {
		return nil, err
	}
	in, err := s.stdinOf(ctx, p)
	if err != nil {
		return nil, err
	}
	n, err := in.Write(ctx, req.GetData())
	if err != nil && n == 0 {
		if errors.Is(err, syscall.EPIPE) {
			return nil, fmt.Errorf("%s no longer reads stdin: %w", p.name(), errdefs.ErrFailedPrecondition)
		}
		return nil, fmt.Errorf("write stdin of %s: %w", p.name(), err)
	}
	return &agent.WriteStdinResponse{Len: uint32(n)}, nil
}

// CloseStdin ends a process's stdin. Before the process started it is
// remembered and done at start; closing twice is harmless.
func (s *Service) CloseStdin(ctx context.Context, req *agent.ProcessRequest) (*emptypb.Empty, error) {
	_, p, err := s.lookupProcess(req.GetContainerId(), req.GetExecId())
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	in := p.stdin
	select {
	case <-p.started:
	default:
		p.closeStdinPending = true
	}
	s.mu.Unlock()
	if in != nil {
		if err := in.Close(); err != nil && !errors.Is(err, os.ErrClosed) {
			log.G(ctx).WithError(err).Debugf("close stdin of %s", p.name())
		}
	}
	return &emptypb.Empty{}, nil
}

func (s *Service) ReadStdout(ctx context.Context, req *agent.ReadStreamRequest) (*agent.ReadStreamResponse, error) {
	return s.readStream(ctx, req, func(p *process) *stdio.Stream { return p.stdout })
}

func (s *Service) ReadStderr(ctx context.Context, req *agent.ReadStreamRequest) (*agent.ReadStreamResponse, error) {
	return s.readStream(ctx, req, func(p *process) *stdio.Stream { return p.stderr })
}

func (s *Service) readStream(ctx context.Context, req *agent.ReadStreamRequest, which func(*process) *stdio.Stream) (*agent.ReadStreamResponse, error) {
	c, p, err := s.lookupProcess(req.GetContainerId(), req.GetExecId())
	if err != nil {
		return nil, err
	}
	c.poke()
	data, eof, err := which(p).Read(ctx, int(min(req.GetMaxLen(), stdio.MaxRead)))
	if err != nil {
		return nil, err
	}
	if eof {
		s.mu.Lock()
		s.pruneExecsLocked(c)
		s.mu.Unlock()
	}
	c.poke()
	return &agent.ReadStreamResponse{Data: data, Eof: eof}, nil
}
