package service

import (
	"context"
	"io"
	"os"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Runtime is the container runtime behind the service: runc in the guest
// (package runc), a fake in the service's tests. It is the go-runc seam:
// each method is one runc command, and nothing here keeps state the
// service needs; the service owns the state.
//
// Process exits do not come back through Runtime: every container process
// is a child of the agent (PID 1 or subreaper), so its exit arrives at the
// service's ProcessExited, from the reaper in the guest or from the fake.
type Runtime interface {
	// Create creates the container of the bundle directory (runc create):
	// the init process exists, held before exec'ing the user's program. It
	// returns the init's PID and stdio.
	Create(ctx context.Context, id, bundle string, io IOConfig) (pid int, pio ProcessIO, err error)
	// Start starts the created container's init (runc start).
	Start(ctx context.Context, id string) error
	// Exec starts one more process in the container (runc exec --detach)
	// and returns its PID and stdio.
	Exec(ctx context.Context, id, execID string, proc *specs.Process, io IOConfig) (pid int, pio ProcessIO, err error)
	// Kill signals the container's init, or with all every process of the
	// container (runc kill [--all]).
	Kill(ctx context.Context, id string, sig syscall.Signal, all bool) error
	// Signal signals one process by PID (an exec'd process; runc has no
	// command for those).
	Signal(pid int, sig syscall.Signal) error
	// Delete deletes the container, killing what still runs (runc delete
	// --force).
	Delete(ctx context.Context, id string) error
	// Pause and Resume freeze and thaw the container's cgroup.
	Pause(ctx context.Context, id string) error
	Resume(ctx context.Context, id string) error
	// Update applies resources to the container's cgroup (runc update).
	Update(ctx context.Context, id string, res *specs.LinuxResources) error
}

// IOConfig says what stdio a process gets.
type IOConfig struct {
	// Terminal: a pseudo-terminal instead of pipes.
	Terminal bool
	// Stdin: a pipe the host writes to; otherwise stdin is /dev/null.
	Stdin bool
	// UID and GID own the pipes (as seen from the agent), so the process
	// can reopen /proc/self/fd/N (/dev/stdout) after dropping privileges.
	UID, GID int
}

// ProcessIO is the agent's side of a process's stdio.
type ProcessIO struct {
	// Stdin is nil unless IOConfig.Stdin and not Terminal.
	Stdin io.WriteCloser
	// Stdout and Stderr are nil with a terminal.
	Stdout, Stderr io.ReadCloser
	// Console is the pseudo-terminal master with a terminal, non-blocking
	// (pollable), so that Close ends a blocked Read and writes honour
	// deadlines.
	Console *os.File
}

// Close closes every descriptor of pio.
func (pio ProcessIO) Close() {
	for _, c := range []io.Closer{pio.Stdin, pio.Stdout, pio.Stderr, pio.Console} {
		if c != nil && !isNilFile(c) {
			c.Close()
		}
	}
}

func isNilFile(c io.Closer) bool {
	f, ok := c.(*os.File)
	return ok && f == nil
}
