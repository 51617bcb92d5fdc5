package stdio

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/containerd/errdefs"
	"github.com/containerd/fifo"
	"github.com/containerd/log"

	agent "github.com/runxen/runxen/guest-agent/api/v1"
	"github.com/runxen/runxen/runtime/agentclient"
)

// Config is a process's stdio as containerd gives it in Create and Exec
// requests.
type Config struct {
	Stdin, Stdout, Stderr string
	Terminal              bool
}

// Owner names the process for a logging binary (CONTAINER_ID and
// CONTAINER_NAMESPACE in its environment).
type Owner struct {
	Namespace, ContainerID string
}

// StdinCloseWait bounds how long CloseIO waits for what the client wrote
// before it closed stdin to reach the guest, before stdin is closed
// regardless (a writer that never closes its end must not hang CloseIO).
const StdinCloseWait = 5 * time.Second

// IO is the host side of one process's stdio. Its methods are safe for
// concurrent use.
type IO struct {
	cfg    Config
	target Target

	stdin          io.ReadCloser  // nil without stdin
	stdout, stderr io.WriteCloser // nil when the output is dropped
	logger         *logger        // binary:// only

	ctx    context.Context // copies run under it; Close cancels it
	cancel context.CancelFunc
	moved  atomic.Int64 // output bytes delivered so far
	cut    atomic.Bool  // CloseStdin stopped reading stdin

	startOnce sync.Once
	outDone   chan struct{} // closed when both output copies returned
	inDone    chan struct{} // closed when the stdin copy returned
	stdinOnce sync.Once     // guards the agent's CloseStdin
	closeOnce sync.Once
	closeErr  error
	outOnce   sync.Once // guards closeOutputs
	outErr    error
	svc       agent.AgentService
	cid, eid  string
}

// Open opens the host ends of a process's stdio; nothing is copied until
// Start. On error nothing is left open.
func Open(ctx context.Context, cfg Config, owner Owner) (_ *IO, retErr error) {
	t, err := ParseTarget(cfg.Stdout)
	if err != nil {
		return nil, err
	}
	p := &IO{cfg: cfg, target: t, outDone: make(chan struct{}), inDone: make(chan struct{})}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	defer func() {
		if retErr != nil {
			p.Close()
		}
	}()
	switch t.Kind {
	case FIFO:
		if p.stdout, err = openOutput(ctx, t.Path); err != nil {
			return nil, fmt.Errorf("open stdout: %w", err)
		}
		if cfg.Stderr != "" && !cfg.Terminal {
			st, err := ParseTarget(cfg.Stderr)
			if err != nil {
				return nil, fmt.Errorf("stderr: %w", err)
			}
			if st.Kind != FIFO {
				return nil, fmt.Errorf("stderr %q is a %s, stdout a FIFO: %w", cfg.Stderr, st.Kind, errdefs.ErrInvalidArgument)
			}
			if st.Path == t.Path {
				p.stderr = p.stdout
			} else if p.stderr, err = openOutput(ctx, st.Path); err != nil {
				return nil, fmt.Errorf("open stderr: %w", err)
			}
		}
	case File:
		if err := os.MkdirAll(filepath.Dir(t.Path), 0o755); err != nil {
			return nil, fmt.Errorf("log file %s: %w", t.Path, err)
		}
		f, err := os.OpenFile(t.Path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			return nil, fmt.Errorf("log file %s: %w", t.Path, err)
		}
		// Both streams share one file: serialise their writes.
		sw := &syncWriter{w: f}
		p.stdout, p.stderr = sw, sw
	case Binary:
		l, err := startLogger(ctx, t, owner)
		if err != nil {
			return nil, err
		}
		p.logger = l
		p.stdout, p.stderr = l.stdout, l.stderr
	}
	if cfg.Stdin != "" {
		// O_NONBLOCK: the open completes in the background once the
		// client opens its end; reads wait for it.
		f, err := fifo.OpenFifo(ctx, cfg.Stdin, syscall.O_RDONLY|syscall.O_NONBLOCK, 0)
		if err != nil {
			return nil, fmt.Errorf("open stdin %s: %w", cfg.Stdin, err)
		}
		p.stdin = f
	}
	return p, nil
}

// openOutput opens an output FIFO read-write, so that the open never
// waits for the client, writes never fail because the client went away
// (they block once the pipe is full, until a client reads again), and
// the stream is not cut short if the client reopens it. A path that
// exists and is not a FIFO is appended to as a file.
func openOutput(ctx context.Context, path string) (io.WriteCloser, error) {
	ok, err := fifo.IsFifo(path)
	if err != nil {
		return nil, err
	}
	if !ok {
		return os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	}
	return fifo.OpenFifo(ctx, path, syscall.O_RDWR, 0)
}

// Terminal says whether the process has a terminal.
func (p *IO) Terminal() bool { return p.cfg.Terminal }

// Config is what the IO was opened with.
func (p *IO) Config() Config { return p.cfg }

// Stdin says whether the process has a stdin to write.
func (p *IO) Stdin() bool { return p.stdin != nil }

// Start copies the process's output from the agent and its stdin to the
// agent until the streams end or Close. It does nothing the second time.
func (p *IO) Start(svc agent.AgentService, containerID, execID string) {
	p.startOnce.Do(func() {
		p.svc, p.cid, p.eid = svc, containerID, execID
		var wg sync.WaitGroup
		p.copyOut(&wg, agentclient.Stdout, p.stdout)
		if !p.cfg.Terminal {
			// With a terminal both streams are the pty's output.
			p.copyOut(&wg, agentclient.Stderr, p.stderr)
		}
		go func() {
			wg.Wait()
			// The streams ended: so do the host ends, as with runc's shim.
			// A client reading a FIFO (Docker's attach, docker exec) sees
			// the end now, not only when the process is deleted; a logging
			// binary gets the end of its input.
			if err := p.closeOutputs(); err != nil {
				log.G(p.ctx).WithError(err).WithField("exec", p.eid).Warn("close output")
			}
			close(p.outDone)
		}()
		if p.stdin == nil {
			close(p.inDone)
			return
		}
		go func() {
			defer close(p.inDone)
			_, err := agentclient.CopyStdin(p.ctx, svc, p.stdin, containerID, execID, false)
			if err != nil && p.ctx.Err() == nil && !p.cut.Load() {
				log.G(p.ctx).WithError(err).WithField("exec", execID).Warn("stdin copy ended")
			}
			if err == nil {
				// The client closed its end: so does the process.
				p.closeAgentStdin()
			}
		}()
	})
}

func (p *IO) copyOut(wg *sync.WaitGroup, s agentclient.Stream, w io.Writer) {
	if w == nil {
		w = io.Discard
	}
	dst := &countingWriter{w: w, n: &p.moved, stream: s, eid: p.eid}
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, err := agentclient.CopyOutput(p.ctx, p.svc, dst, s, p.cid, p.eid)
		if err != nil && p.ctx.Err() == nil {
			log.G(p.ctx).WithError(err).WithField("exec", p.eid).Warnf("%s copy ended", s)
		}
	}()
}

func (p *IO) closeAgentStdin() {
	p.stdinOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), agentclient.DefaultCallTimeout)
		defer cancel()
		if _, err := p.svc.CloseStdin(ctx, &agent.ProcessRequest{ContainerId: p.cid, ExecId: p.eid}); err != nil {
			log.G(ctx).WithError(err).WithField("exec", p.eid).Warn("close stdin in the guest")
		}
	})
}

// CloseStdin forwards the client's end of stdin (containerd's CloseIO):
// what the client wrote before is delivered first, for at most wait;
// then the process's stdin is closed in the guest.
func (p *IO) CloseStdin(wait time.Duration) {
	if p.stdin == nil {
		return
	}
	select {
	case <-p.inDone:
	case <-time.After(wait):
		// A writer is still attached (the client keeps the FIFO open):
		// stop reading it.
		p.cut.Store(true)
		p.stdin.Close()
		<-p.inDone
	}
	if p.svc != nil {
		p.closeAgentStdin()
	}
}

// WaitOutput waits until the process's output has been delivered to its
// destination (the agent reported the end of both streams and every byte
// was written). It gives up, cutting the copies short, when no byte moved
// for idle: a guest process's descendant may hold the stream open, or the
// client may have stopped reading. It reports whether the output ended by
// itself.
func (p *IO) WaitOutput(idle time.Duration) bool {
	t := time.NewTicker(idle)
	defer t.Stop()
	last := p.moved.Load()
	for {
		select {
		case <-p.outDone:
			return true
		case <-t.C:
			n := p.moved.Load()
			if n != last {
				last = n
				continue
			}
			p.cancel()
			p.closeOutputs()
			select {
			case <-p.outDone:
			case <-time.After(idle):
			}
			return false
		}
	}
}

// closeOutputs closes the output ends, once.
func (p *IO) closeOutputs() error {
	p.outOnce.Do(func() {
		var errs []error
		if p.stdout != nil {
			errs = append(errs, p.stdout.Close())
		}
		if p.stderr != nil && p.stderr != p.stdout {
			errs = append(errs, p.stderr.Close())
		}
		p.outErr = errors.Join(errs...)
	})
	return p.outErr
}

// Close stops the copies and closes every host end; a logging binary gets
// the end of its streams and time to exit. Close is idempotent.
func (p *IO) Close() error {
	p.closeOnce.Do(func() {
		p.cancel()
		var errs []error
		if p.stdin != nil {
			errs = append(errs, p.stdin.Close())
		}
		errs = append(errs, p.closeOutputs())
		if p.logger != nil {
			errs = append(errs, p.logger.stop())
		}
		p.closeErr = errors.Join(errs...)
	})
	return p.closeErr
}

// countingWriter counts the bytes delivered, and drops what its
// destination no longer takes: the agent's stream must be drained in any
// case, or the guest process blocks once the agent's buffer is full.
type countingWriter struct {
	w      io.Writer
	n      *atomic.Int64
	stream agentclient.Stream
	eid    string
	failed bool
}

func (c *countingWriter) Write(b []byte) (int, error) {
	if c.failed {
		return len(b), nil
	}
	n, err := c.w.Write(b)
	c.n.Add(int64(n))
	if err != nil {
		c.failed = true
		log.L.WithError(err).WithField("exec", c.eid).Warnf("%s destination failed; dropping the rest of the stream", c.stream)
	}
	return len(b), nil
}

// syncWriter serialises writes to one destination shared by two streams;
// it is closed once, by its first Close.
type syncWriter struct {
	mu     sync.Mutex
	w      io.WriteCloser
	closed bool
}

func (s *syncWriter) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, os.ErrClosed
	}
	return s.w.Write(b)
}

func (s *syncWriter) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	return s.w.Close()
}
