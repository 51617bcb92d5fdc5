package debkernel

import "github.com/runxen/runxen/internal/debian/apt"

// Cmd is one host command.
type Cmd = apt.Cmd

// Runner runs host commands. It exists so tests can stand in for apt-get and
// dpkg-deb, and so callers can wrap commands (for example in a namespace).
type Runner = apt.Runner

// ExecRunner runs commands with os/exec.
type ExecRunner = apt.ExecRunner
