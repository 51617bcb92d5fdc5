package apt

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/containerd/log"
)

// Cmd is one host command.
type Cmd struct {
	Name string
	Args []string
	// Env is added to the caller's environment; later entries win.
	Env []string
	// Dir is the working directory; empty means the caller's.
	Dir string
}

// String renders the command for logs and errors.
func (c Cmd) String() string {
	return strings.Join(append([]string{c.Name}, c.Args...), " ")
}

// Runner runs host commands. It exists so tests can stand in for apt-get and
// dpkg-deb, and so callers can wrap commands (for example in a namespace).
type Runner interface {
	// Run runs c to completion and returns its standard output.
	Run(ctx context.Context, c Cmd) ([]byte, error)
}

// ExecRunner runs commands with os/exec.
type ExecRunner struct{}

// stderrTail bounds how much of a failing command's stderr ends up in an
// error: apt's last lines say what went wrong, the rest is noise.
const stderrTail = 2048

// Run implements Runner.
func (ExecRunner) Run(ctx context.Context, c Cmd) ([]byte, error) {
	cmd := exec.CommandContext(ctx, c.Name, c.Args...)
	cmd.Env = append(os.Environ(), c.Env...)
	cmd.Dir = c.Dir
	// apt-get spawns method helpers; give them a moment to notice the
	// cancellation before the pipes are closed under them.
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	log.G(ctx).WithField("cmd", c.String()).Debug("running host command")
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if len(msg) > stderrTail {
			msg = "..." + msg[len(msg)-stderrTail:]
		}
		if msg == "" {
			return nil, fmt.Errorf("%s: %w", c, err)
		}
		return nil, fmt.Errorf("%s: %w: %s", c, err, msg)
	}
	return stdout.Bytes(), nil
}
