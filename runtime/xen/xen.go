package xen

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// DomID is a Xen domain ID.
type DomID uint32

// MaxDomID is the largest ID of an ordinary domain (DOMID_FIRST_RESERVED-1).
const MaxDomID DomID = 0x7FEF

// Toolstack creates and controls Xen domains. Implementations are safe for
// concurrent use. Every error wraps ErrNoDomain when the domain does not
// exist.
type Toolstack interface {
	// Create builds a domain from cfg and returns its ID. The domain is
	// left paused: devices can be added before Unpause lets it run. On
	// error nothing is left behind.
	Create(ctx context.Context, cfg DomainConfig) (DomID, error)
	// Unpause lets a paused domain run.
	Unpause(ctx context.Context, id DomID) error
	// Pause stops a domain's vCPUs; its memory and devices stay.
	Pause(ctx context.Context, id DomID) error
	// Resize changes a live domain's resources (see Resources); fields
	// left zero stay as they are. Memory is given back or taken by the
	// guest's balloon driver, so the guest's own figures follow once it
	// has acted; the ceiling Xen enforces changes at once.
	Resize(ctx context.Context, id DomID, r Resources) error
	// Destroy kills the domain and releases everything it holds: memory,
	// devices, xenstore nodes.
	Destroy(ctx context.Context, id DomID) error
	// Info describes one domain.
	Info(ctx context.Context, id DomID) (DomainInfo, error)
	// List describes every domain, Domain-0 included, ordered by ID.
	List(ctx context.Context) ([]DomainInfo, error)
	// Wait blocks until the domain no longer runs: it has shut down
	// (powered off, crashed, ...) or no longer exists. It returns the
	// domain's last known state: StateShutdown with its reason, StateDying,
	// or StateGone. The domain is not destroyed: that is the caller's job.
	Wait(ctx context.Context, id DomID) (DomainInfo, error)
}

// Resources are what Resize changes. A zero field is left as it is.
type Resources struct {
	// MemoryMiB is the domain's new memory, at least MinMemoryMiB.
	MemoryMiB int
	// VCPUs is the number of online vCPUs, 1 to the domain's MaxVCPUs.
	VCPUs int
	// CPUWeight is the scheduler weight, 1 to MaxCPUWeight.
	CPUWeight int
	// CPUCap, when not nil, is the new cap in percent of a CPU; 0 removes
	// the cap.
	CPUCap *int
	// CPUAffinity is the new hard affinity of every vCPU (cpuset list).
	CPUAffinity string
}

// Validate checks r and returns an error naming the first bad field.
func (r Resources) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidConfig, fmt.Sprintf(format, args...))
	}
	switch {
	case r.MemoryMiB != 0 && (r.MemoryMiB < MinMemoryMiB || r.MemoryMiB > MaxMemoryMiB):
		return bad("memory %d MiB is outside [%d, %d]", r.MemoryMiB, MinMemoryMiB, MaxMemoryMiB)
	case r.VCPUs < 0 || r.VCPUs > MaxVCPUs:
		return bad("vcpus %d is outside [1, %d]", r.VCPUs, MaxVCPUs)
	case r.CPUWeight < 0 || r.CPUWeight > MaxCPUWeight:
		return bad("cpu weight %d is outside [1, %d]", r.CPUWeight, MaxCPUWeight)
	case r.CPUCap != nil && (*r.CPUCap < 0 || *r.CPUCap > 100*MaxVCPUs):
		return bad("cpu cap %d%% is outside [0, %d]", *r.CPUCap, 100*MaxVCPUs)
	}
	if r.CPUAffinity != "" {
		if err := CheckCPUList(r.CPUAffinity); err != nil {
			return bad("cpu affinity: %v", err)
		}
	}
	return nil
}

// ErrNoDomain is wrapped by errors about a domain that does not exist.
var ErrNoDomain = errors.New("no such domain")

// State is what a domain is doing.
type State int

const (
	// StateRunning: the domain runs (or is blocked waiting for an event).
	StateRunning State = iota + 1
	// StatePaused: the domain exists but its vCPUs do not run.
	StatePaused
	// StateShutdown: the domain shut down (see Reason) and waits to be
	// destroyed.
	StateShutdown
	// StateDying: the domain is being destroyed.
	StateDying
	// StateGone: the domain no longer exists. Only Wait reports it.
	StateGone
)

func (s State) String() string {
	switch s {
	case StateRunning:
		return "running"
	case StatePaused:
		return "paused"
	case StateShutdown:
		return "shutdown"
	case StateDying:
		return "dying"
	case StateGone:
		return "gone"
	}
	return fmt.Sprintf("state(%d)", int(s))
}

// Exited reports whether a domain in this state will never run again.
func (s State) Exited() bool { return s == StateShutdown || s == StateDying || s == StateGone }

// ShutdownReason says why a domain shut down (libxl_shutdown_reason).
type ShutdownReason int

const (
	ReasonPoweroff  ShutdownReason = 0
	ReasonReboot    ShutdownReason = 1
	ReasonSuspend   ShutdownReason = 2
	ReasonCrash     ShutdownReason = 3
	ReasonWatchdog  ShutdownReason = 4
	ReasonSoftReset ShutdownReason = 5
	ReasonUnknown   ShutdownReason = -1
)

func (r ShutdownReason) String() string {
	switch r {
	case ReasonPoweroff:
		return "poweroff"
	case ReasonReboot:
		return "reboot"
	case ReasonSuspend:
		return "suspend"
	case ReasonCrash:
		return "crash"
	case ReasonWatchdog:
		return "watchdog"
	case ReasonSoftReset:
		return "soft_reset"
	}
	return "unknown"
}

// DomainInfo is a domain's state as the toolstack reports it.
type DomainInfo struct {
	ID    DomID
	Name  string
	State State
	// Reason is meaningful when State is StateShutdown.
	Reason ShutdownReason
	// MemoryMiB is the memory the domain holds now.
	MemoryMiB uint64
	// VCPUs counts the domain's online vCPUs.
	VCPUs int
	// CPUTime is the CPU time the domain has used (xl reports tenths of a
	// second).
	CPUTime time.Duration
}

// String describes the state in a few words ("shutdown (crash)"), for
// error messages.
func (i DomainInfo) String() string {
	if i.State == StateShutdown {
		return fmt.Sprintf("domain %d %s (%s)", i.ID, i.State, i.Reason)
	}
	return fmt.Sprintf("domain %d %s", i.ID, i.State)
}
