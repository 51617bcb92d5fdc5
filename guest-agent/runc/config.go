package runc

// Defaults for the guest.
const (
	// DefaultBinary is where Debian's runc package installs runc.
	DefaultBinary = "/usr/sbin/runc"
	// DefaultRoot is runc's state directory (runc's own default for root).
	DefaultRoot = "/run/runc"
	// DefaultSocketDir holds console sockets while runc hands over a pty.
	DefaultSocketDir = "/run/runxen/console"
)

// Config configures Runc. Zero fields take the defaults.
type Config struct {
	Binary    string
	Root      string
	SocketDir string
}
