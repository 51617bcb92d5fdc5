package config

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/runxen/runxen/runtime/iolimit"
	"github.com/runxen/runxen/runtime/xen"
)

// Default locations; `make install` installs the guest images there.
const (
	// DefaultPath is the configuration file read when neither the runtime
	// options nor RUNXEN_CONFIG name one.
	DefaultPath = "/etc/runxen/config.toml"
	// EnvPath is the environment variable that names the file.
	EnvPath = "RUNXEN_CONFIG"
	// DefaultGuestDir is where the guest kernel and initramfs are installed.
	DefaultGuestDir = "/usr/share/runxen/guest"
)

// Config is runxen's host configuration. The zero value is not valid: start
// from Default, or Load.
type Config struct {
	// LogLevel is the shim's and the guest agent's log level: trace,
	// debug, info, warn or error.
	LogLevel string `toml:"log_level"`
	// StateDir holds runxen's per-container host state (staging
	// directories for file binds).
	StateDir string `toml:"state_dir"`

	Guest    Guest    `toml:"guest"`
	Timeouts Timeouts `toml:"timeouts"`
	Xen      Xen      `toml:"xen"`
	Shares   Shares   `toml:"shares"`
}

// Guest is the shape of the guest every container runs in.
type Guest struct {
	// Kernel and Initramfs are the guest images: absolute dom0 paths.
	Kernel    string `toml:"kernel"`
	Initramfs string `toml:"initramfs"`
	// KernelParams are appended to the guest kernel's command line (after
	// console=hvc0 and runxen.log=).
	KernelParams string `toml:"kernel_params"`
	// MemoryMiB is the memory a container gets when its spec sets no
	// limit (linux.resources.memory.limit).
	MemoryMiB int `toml:"memory_mib"`
	// MemoryOverheadMiB and MemoryOverheadPercent (of the container's
	// memory) are added to the container's memory to size the domain:
	// what the guest kernel, the agent, the unpacked initramfs and runc
	// take, so that the container itself can use all it asked for. The
	// kernel's share grows with the domain (page structures, reserves),
	// hence the percentage. See DomainMemoryMiB.
	MemoryOverheadMiB     int `toml:"memory_overhead_mib"`
	MemoryOverheadPercent int `toml:"memory_overhead_percent"`
	// MinMemoryMiB is the smallest container memory limit accepted; a
	// smaller one is refused with an error naming the spec field.
	MinMemoryMiB int `toml:"min_memory_mib"`
	// VCPUs is the number of vCPUs a container gets when its spec sets no
	// CPU limit (linux.resources.cpu quota or cpus).
	VCPUs int `toml:"vcpus"`
}

// Timeouts bound every wait on a guest: the guest is untrusted and may
// never answer.
type Timeouts struct {
	// Boot bounds the time from starting the domain to its agent
	// answering and its shares connected.
	Boot Duration `toml:"boot"`
	// AgentCall bounds one agent call that should answer promptly (all but
	// those that wait for a process).
	AgentCall Duration `toml:"agent_call"`
	// Destroy bounds tearing a guest down.
	Destroy Duration `toml:"destroy"`
}

// Xen configures the toolstack.
type Xen struct {
	// XL is the xl binary: an absolute path, or a name looked up in PATH.
	XL string `toml:"xl"`
}

// Shares configures the 9P shares that carry the root file system and
// volumes to the guest.
type Shares struct {
	// Msize is the largest 9P message, in bytes (mount option msize).
	Msize int `toml:"msize"`
	// Cache is the guest's 9P cache mode (mount option cache).
	Cache string `toml:"cache"`
	// IOLimits are every share's I/O limits unless the container's
	// annotations or blockIO throttles set others. Zero: unlimited.
	IOLimits IOLimits `toml:"io_limits"`
}

// IOLimits are a share's I/O rates; zero means unlimited.
type IOLimits struct {
	ReadBytesPerSec  uint64 `toml:"read_bytes_per_sec"`
	WriteBytesPerSec uint64 `toml:"write_bytes_per_sec"`
	ReadOpsPerSec    uint64 `toml:"read_ops_per_sec"`
	WriteOpsPerSec   uint64 `toml:"write_ops_per_sec"`
}

// Limits converts to the file server's type.
func (l IOLimits) Limits() iolimit.Limits {
	return iolimit.Limits{
		ReadBytesPerSec:  l.ReadBytesPerSec,
		WriteBytesPerSec: l.WriteBytesPerSec,
		ReadOpsPerSec:    l.ReadOpsPerSec,
		WriteOpsPerSec:   l.WriteOpsPerSec,
	}
}

// Limits on settings.
const (
	// MaxMsize is the largest message Linux's 9pnet_xen uses (512 KiB);
	// MinMsize leaves room for a 9P header and a useful payload.
	MinMsize = 8 << 10
	MaxMsize = 512 << 10
	// MaxOverheadMiB and the timeout bounds catch unit mistakes (a value in KiB,
	// a timeout in milliseconds written as seconds).
	MaxOverheadMiB = 64 << 10
	MinTimeout     = 100 * time.Millisecond
	MaxTimeout     = 24 * time.Hour
)

// LogLevels are the accepted log levels.
var LogLevels = []string{"trace", "debug", "info", "warn", "error"}

// CacheModes are the 9p cache modes the guest agent mounts shares with
// (agent.proto's ShareCache; Linux's Documentation/filesystems/9p.rst).
var CacheModes = []string{"none", "mmap", "loose"}

// Default is the built-in configuration: what applies when no file exists,
// and what every key of a file falls back to.
func Default() Config {
	return Config{
		LogLevel: "info",
		StateDir: "/run/runxen",
		Guest: Guest{
			Kernel:                filepath.Join(DefaultGuestDir, "vmlinuz"),
			Initramfs:             filepath.Join(DefaultGuestDir, "agent.initramfs"),
			MemoryMiB:             512,
			MemoryOverheadMiB:     DefaultMemoryOverheadMiB,
			MemoryOverheadPercent: DefaultMemoryOverheadPercent,
			MinMemoryMiB:          16,
			VCPUs:                 1,
		},
		Timeouts: Timeouts{
			Boot:      Seconds(30),
			AgentCall: Seconds(30),
			Destroy:   Seconds(120),
		},
		Xen: Xen{XL: "xl"},
		Shares: Shares{
			Msize: MaxMsize,
			Cache: "mmap",
		},
	}
}

// The default overhead, measured in the Xen lab (docs/design/README.md,
// "Measuring the overhead"): the guest took 101 to 110 MiB besides a
// 128 MiB container and 135 to 137 MiB besides a 1 GiB one; the defaults leave
// at least 24 MiB more for runc and the agent at their peaks.
const (
	DefaultMemoryOverheadMiB     = 128
	DefaultMemoryOverheadPercent = 4
)

// DomainMemoryMiB is the memory of a domain whose container has
// containerMiB: containerMiB + memory_overhead_mib +
// memory_overhead_percent% of containerMiB, rounded up.
func (g Guest) DomainMemoryMiB(containerMiB int64) int64 {
	pct := (containerMiB*int64(g.MemoryOverheadPercent) + 99) / 100
	return containerMiB + int64(g.MemoryOverheadMiB) + pct
}

// ErrInvalid is wrapped by every error Validate returns.
var ErrInvalid = errors.New("invalid runxen configuration")

// Validate checks every setting and returns an error naming each bad key.
func (c Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: %s: %s", ErrInvalid, key, fmt.Sprintf(format, args...)))
	}
	if !slices.Contains(LogLevels, c.LogLevel) {
		bad("log_level", "%q is not one of %s", c.LogLevel, strings.Join(LogLevels, ", "))
	}
	checkAbs := func(key, p string) {
		switch {
		case p == "":
			bad(key, "is empty")
		case !filepath.IsAbs(p):
			bad(key, "%q is not an absolute path", p)
		case strings.IndexFunc(p, notPrintable) >= 0:
			bad(key, "%q has a control or non-ASCII character", p)
		}
	}
	checkAbs("state_dir", c.StateDir)
	checkAbs("guest.kernel", c.Guest.Kernel)
	checkAbs("guest.initramfs", c.Guest.Initramfs)
	if i := strings.IndexFunc(c.Guest.KernelParams, notPrintable); i >= 0 {
		bad("guest.kernel_params", "has a control or non-ASCII character at byte %d", i)
	}
	if n := len(c.Guest.KernelParams); n > xen.MaxCmdlineLen/2 {
		bad("guest.kernel_params", "is %d bytes; the whole guest command line must fit in %d", n, xen.MaxCmdlineLen)
	}
	g := c.Guest
	if g.MinMemoryMiB < 1 || g.MinMemoryMiB > xen.MaxMemoryMiB {
		bad("guest.min_memory_mib", "%d is outside [1, %d]", g.MinMemoryMiB, xen.MaxMemoryMiB)
	}
	if g.MemoryOverheadMiB < 0 || g.MemoryOverheadMiB > MaxOverheadMiB {
		bad("guest.memory_overhead_mib", "%d is outside [0, %d]", g.MemoryOverheadMiB, MaxOverheadMiB)
	}
	if g.MemoryOverheadPercent < 0 || g.MemoryOverheadPercent > 100 {
		bad("guest.memory_overhead_percent", "%d is outside [0, 100]", g.MemoryOverheadPercent)
	}
	if g.MemoryMiB < g.MinMemoryMiB || g.MemoryMiB > xen.MaxMemoryMiB {
		bad("guest.memory_mib", "%d is outside [guest.min_memory_mib = %d, %d]", g.MemoryMiB, g.MinMemoryMiB, xen.MaxMemoryMiB)
	} else if d := g.DomainMemoryMiB(int64(g.MemoryMiB)); d > xen.MaxMemoryMiB {
		bad("guest.memory_mib", "%d with the overhead makes a %d MiB domain, more than %d", g.MemoryMiB, d, xen.MaxMemoryMiB)
	}
	if g.MinMemoryMiB+g.MemoryOverheadMiB < xen.MinMemoryMiB {
		bad("guest.min_memory_mib", "with guest.memory_overhead_mib, a domain would have %d MiB, less than Xen's minimum of %d",
			g.MinMemoryMiB+g.MemoryOverheadMiB, xen.MinMemoryMiB)
	}
	if g.VCPUs < 1 || g.VCPUs > xen.MaxVCPUs {
		bad("guest.vcpus", "%d is outside [1, %d]", g.VCPUs, xen.MaxVCPUs)
	}
	for _, t := range []struct {
		key string
		d   Duration
	}{{"timeouts.boot", c.Timeouts.Boot}, {"timeouts.agent_call", c.Timeouts.AgentCall}, {"timeouts.destroy", c.Timeouts.Destroy}} {
		if err := t.d.check(); err != nil {
			bad(t.key, "%v", err)
		}
	}
	switch x := c.Xen.XL; {
	case x == "":
		bad("xen.xl", "is empty")
	case strings.IndexFunc(x, notPrintable) >= 0:
		bad("xen.xl", "%q has a control or non-ASCII character", x)
	case strings.Contains(x, "/") && !filepath.IsAbs(x):
		bad("xen.xl", "%q must be an absolute path or a bare name looked up in PATH", x)
	}
	if c.Shares.Msize < MinMsize || c.Shares.Msize > MaxMsize {
		bad("shares.msize", "%d is outside [%d, %d]", c.Shares.Msize, MinMsize, MaxMsize)
	}
	if !slices.Contains(CacheModes, c.Shares.Cache) {
		bad("shares.cache", "%q is not one of %s", c.Shares.Cache, strings.Join(CacheModes, ", "))
	}
	return errors.Join(errs...)
}

// Cmdline is the guest kernel's command line.
func (c Config) Cmdline() string {
	s := "console=hvc0 runxen.log=" + c.LogLevel
	if p := strings.TrimSpace(c.Guest.KernelParams); p != "" {
		s += " " + p
	}
	return s
}

// notPrintable is true for anything but printable ASCII.
func notPrintable(r rune) bool { return r < 0x20 || r > 0x7e }
