package hooks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/containerd/errdefs"
	"github.com/containerd/log"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

const (
	// maxStderr and maxStdout bound what is kept of a hook's output for
	// its error message.
	maxStderr = 4096
	maxStdout = 1024
	// waitDelay bounds the wait for a hook's output pipes once it has
	// exited or been killed: a child it left in the background may hold
	// them open.
	waitDelay = 2 * time.Second
)

// Error is a failed hook: which one, why, and the start and end of what
// it wrote.
type Error struct {
	Index  int    // position in its list (hooks.<kind>[Index])
	Path   string // the hook's path
	Err    error  // *exec.ExitError, a start failure, a timeout, the context's error
	Stderr string // bounded: the first and last maxStderr/2 bytes
	Stdout string // bounded likewise by maxStdout
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "hook %d (%s): %v", e.Index, e.Path, e.Err)
	if s := strings.TrimSpace(e.Stderr); s != "" {
		fmt.Fprintf(&b, "; stderr: %s", s)
	}
	if s := strings.TrimSpace(e.Stdout); s != "" {
		fmt.Fprintf(&b, "; stdout: %s", s)
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// ErrTimeout is wrapped by the Error of a hook that ran past its timeout
// and was killed.
var ErrTimeout = errors.New("hook timed out")

// Run runs hooks one after the other, as the runtime spec orders, each on
// the host with the state as JSON on its stdin, and stops at the first
// that fails: the rule for prestart, createRuntime and poststart hooks.
// The error is an *Error.
//
// Each hook runs with:
//   - argv: its args, args[0] being argv[0] (its path when args is empty);
//   - environment: exactly its env when the spec has one (even an empty
//     list); the shim's own environment when env is absent, as runc does,
//     which hooks written for runc (nerdctl's, Docker's) rely on;
//   - working directory: the bundle, as the runtime's own (containerd
//     starts the shim in the bundle);
//   - its own process group: a timeout (its timeout seconds, or ctx)
//     kills the whole group with SIGKILL, so a hook's children do not
//     linger past it.
func Run(ctx context.Context, hooks []specs.Hook, state *specs.State) error {
	in, err := json.Marshal(state)
	if err != nil {
		return fmt.Errorf("encode OCI state for hooks: %w", err)
	}
	for i, h := range hooks {
		if err := runOne(ctx, i, h, in, state.Bundle); err != nil {
			return err
		}
	}
	return nil
}

// RunAll runs every hook even when some fail, and returns all failures
// joined: the rule for poststop hooks, whose failures the runtime must log
// as warnings and otherwise ignore.
func RunAll(ctx context.Context, hooks []specs.Hook, state *specs.State) error {
	in, err := json.Marshal(state)
	if err != nil {
		return fmt.Errorf("encode OCI state for hooks: %w", err)
	}
	var errs []error
	for i, h := range hooks {
		if err := runOne(ctx, i, h, in, state.Bundle); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func runOne(ctx context.Context, i int, h specs.Hook, state []byte, bundle string) error {
	fail := func(err error) error { return &Error{Index: i, Path: h.Path, Err: err} }
	if !filepath.IsAbs(h.Path) {
		return fail(fmt.Errorf("path must be absolute: %w", errdefs.ErrInvalidArgument))
	}
	hctx := ctx
	if h.Timeout != nil {
		if *h.Timeout <= 0 {
			return fail(fmt.Errorf("timeout %d must be greater than zero: %w", *h.Timeout, errdefs.ErrInvalidArgument))
		}
		var cancel context.CancelFunc
		hctx, cancel = context.WithTimeout(ctx, time.Duration(*h.Timeout)*time.Second)
		defer cancel()
	}

	cmd := exec.CommandContext(hctx, h.Path)
	if len(h.Args) > 0 {
		cmd.Args = h.Args
	}
	cmd.Env = h.Env // nil: the shim's environment
	cmd.Dir = bundle
	cmd.Stdin = bytes.NewReader(state)
	stdout, stderr := newCapture(maxStdout), newCapture(maxStderr)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		// The group's id is the hook's pid (Setpgid). ESRCH: all gone.
		if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
			return err
		}
		return nil
	}
	cmd.WaitDelay = waitDelay

	start := time.Now()
	err := cmd.Run()
	logger := log.G(ctx).WithFields(log.Fields{"hook": h.Path, "index": i, "duration": time.Since(start)})
	if errors.Is(err, exec.ErrWaitDelay) {
		// It succeeded; something it started kept its output open.
		logger.Warn("hook exited successfully but left a process holding its output; stopped reading it")
		err = nil
	}
	if err == nil {
		logger.Debug("hook ran")
		return nil
	}
	e := &Error{Index: i, Path: h.Path, Err: err, Stderr: stderr.String(), Stdout: stdout.String()}
	switch {
	case cmd.Process == nil:
		e.Err = fmt.Errorf("start: %w", err)
	case ctx.Err() != nil:
		e.Err = fmt.Errorf("killed: %w", ctx.Err())
	case hctx.Err() != nil:
		e.Err = fmt.Errorf("killed after its timeout of %ds: %w (%w)", *h.Timeout, ErrTimeout, hctx.Err())
	}
	return e
}
