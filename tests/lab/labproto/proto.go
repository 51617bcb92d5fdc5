// Package labproto is the wire contract between the lab harness on the host and labd, the
// command server that runs in the lab's dom0. It is plain HTTP with JSON bodies so that a
// developer can poke at a running lab with curl when a test misbehaves.
package labproto

// Port is the TCP port labd listens on inside dom0; QEMU forwards a host loopback port to it.
const Port = 7000

// Paths served by labd.
const (
	PathHealth = "/health"
	PathExec   = "/exec"
	PathFile   = "/file"
	PathShell  = "/shell"
)

// ExecRequest asks labd to run one command in dom0.
type ExecRequest struct {
	Args []string `json:"args"`
	// Env is added to labd's own environment (KEY=VALUE).
	Env   []string `json:"env,omitempty"`
	Dir   string   `json:"dir,omitempty"`
	Stdin []byte   `json:"stdin,omitempty"`
	// TimeoutSeconds bounds the command; labd kills its whole process group when it expires.
	TimeoutSeconds int `json:"timeout_seconds,omitempty"`
}

// ExecResult is what a command did. ExitCode is -1 when the command was killed by a signal or
// could not start; Error then says why.
type ExecResult struct {
	Stdout   []byte `json:"stdout"`
	Stderr   []byte `json:"stderr"`
	ExitCode int    `json:"exit_code"`
	Error    string `json:"error,omitempty"`
	// Millis is the command's wall time measured in dom0.
	Millis int64 `json:"millis"`
}

// Health reports which dom0 services answer.
type Health struct {
	Services map[string]bool `json:"services"`
	Uptime   float64         `json:"uptime_seconds"`
}
