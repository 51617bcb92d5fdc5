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
