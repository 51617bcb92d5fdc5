package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	agent "github.com/runxen/runxen/guest-agent/api/v1"
	"github.com/runxen/runxen/runtime/agentclient"
)

// termSize is a terminal size in characters.
type termSize struct{ width, height uint16 }

// session runs one container in a guest through the agent and connects its
// stdio to ours. It knows nothing of domains: svc can be any agent.
type session struct {
	svc         agent.AgentService
	containerID string
	spec        *specs.Spec
	stdin       io.Reader // nil: the process reads /dev/null
	stdout      io.Writer
	stderr      io.Writer // unused with a terminal: the pty merges both
	// size is the terminal's size when the container is created; resizes
	// brings later sizes. Both only matter with a terminal.
	size    termSize
	resizes <-chan termSize

	// Set by run.
	created, started time.Time
	firstOutput      firstWrite
	exited           time.Time
}

// run creates and starts the container, copies its stdio until it has
// exited and its output ended, and returns its exit status. The caller
// tears the guest down.
func (s *session) run(ctx context.Context) (uint32, error) {
	terminal := s.spec.Process != nil && s.spec.Process.Terminal
	b, err := json.Marshal(s.spec)
	if err != nil {
		return 0, err
	}
	if _, err := s.svc.CreateContainer(ctx, &agent.CreateContainerRequest{
		ContainerId: s.containerID, Spec: b, Terminal: terminal, Stdin: s.stdin != nil,
	}); err != nil {
		return 0, fmt.Errorf("create container: %w", err)
	}
	s.created = time.Now()
	if terminal && s.size.width > 0 && s.size.height > 0 {
		if err := s.resize(ctx, s.size); err != nil {
			return 0, err
		}
	}
	s.firstOutput.since = time.Now()
	if _, err := s.svc.StartContainer(ctx, &agent.StartContainerRequest{ContainerId: s.containerID}); err != nil {
		return 0, fmt.Errorf("start container: %w", err)
	}
	s.started = time.Now()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	copyOut := func(w io.Writer, st agentclient.Stream) {
		defer wg.Done()
		fw := s.firstOutput.to(w)
		if _, err := agentclient.CopyOutput(ctx, s.svc, &fw, st, s.containerID, ""); err != nil {
			errs <- err
		}
	}
	wg.Add(1)
	go copyOut(s.stdout, agentclient.Stdout)
	if !terminal {
		wg.Add(1)
		go copyOut(s.stderr, agentclient.Stderr)
	}
	if s.stdin != nil {
		// Not waited for: the process may exit without reading all of its
		// stdin, and a read of our own stdin cannot be interrupted. A
		// failure to deliver stdin is not the session's failure either.
		go func() {
			_, _ = agentclient.CopyStdin(ctx, s.svc, s.stdin, s.containerID, "", true)
		}()
	}
	if terminal && s.resizes != nil {
		go func() {
			for {
				select {
				case sz, ok := <-s.resizes:
					if !ok {
						return
					}
					_ = s.resize(ctx, sz) // a resize racing the exit is harmless
				case <-ctx.Done():
					return
				}
			}
		}()
	}

	w, err := s.svc.WaitProcess(ctx, &agent.ProcessRequest{ContainerId: s.containerID})
	if err != nil {
		return 0, fmt.Errorf("wait for container: %w", err)
	}
	s.exited = time.Now()
	// The output ends soon after the exit; do not wait forever for an
	// agent that never says so.
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		return w.ExitStatus, ctx.Err()
	}
	select {
	case err := <-errs:
		return w.ExitStatus, err
	default:
	}
	return w.ExitStatus, nil
}

func (s *session) resize(ctx context.Context, sz termSize) error {
	_, err := s.svc.ResizePty(ctx, &agent.ResizePtyRequest{
		ContainerId: s.containerID, Width: uint32(sz.width), Height: uint32(sz.height),
	})
	if err != nil {
		return fmt.Errorf("resize terminal: %w", err)
	}
	return nil
}

// firstWrite records when the first byte of output arrived, over any
// number of writers.
type firstWrite struct {
	since time.Time
	once  sync.Once
	at    time.Time
	mu    sync.Mutex
}

type firstWriter struct {
	f *firstWrite
	w io.Writer
}

func (f *firstWrite) to(w io.Writer) firstWriter { return firstWriter{f: f, w: w} }

func (fw *firstWriter) Write(p []byte) (int, error) {
	if len(p) > 0 {
		fw.f.once.Do(func() {
			fw.f.mu.Lock()
			fw.f.at = time.Now()
			fw.f.mu.Unlock()
		})
	}
	return fw.w.Write(p)
}

// after is how long after since the first output came, or -1 if none did.
func (f *firstWrite) after() time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.at.IsZero() {
		return -1
	}
	return f.at.Sub(f.since)
}

// timing is one line of the --timings report; a negative d means the
// phase did not happen.
type timing struct {
	name string
	d    time.Duration
}

// timings are the container's phases, the first measured from booted
// (when the agent answered).
func (s *session) timings(booted time.Time) []timing {
	var out []timing
	if s.created.IsZero() {
		return out
	}
	out = append(out, timing{"container create", s.created.Sub(booted)})
	if s.started.IsZero() {
		return out
	}
	out = append(out,
		timing{"container start", s.started.Sub(s.created)},
		timing{"first output after start call", s.firstOutput.after()})
	if !s.exited.IsZero() {
		out = append(out, timing{"start to exit", s.exited.Sub(s.started)})
	}
	return out
}
