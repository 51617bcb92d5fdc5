package task

import (
	"context"

	"github.com/containerd/containerd/v2/core/events"
	"github.com/containerd/containerd/v2/core/mount"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	agent "github.com/runxen/runxen/guest-agent/api/v1"
)

// Sandbox is a guest that runs containers: what the service needs of
// runtime/sandbox's *Sandbox, so that tests can use a fake.
type Sandbox interface {
	// Agent is the guest agent's client.
	Agent() agent.AgentService
	// DomainName is the Xen domain's name.
	DomainName() string
	// Pause flushes the container's writes to the host and freezes it.
	Pause(ctx context.Context, containerID string) error
	// Resume thaws a paused container.
	Resume(ctx context.Context, containerID string) error
	// Update applies new resource limits to a container.
	Update(ctx context.Context, containerID string, r *specs.LinuxResources) error
	// Done is closed when the guest or its agent is gone; Err says why.
	Done() <-chan struct{}
	Err() error
	// Destroy tears the guest down and leaves nothing behind; it is
	// idempotent.
	Destroy(ctx context.Context) error
}

// SandboxRequest is a new sandbox with its first container, created (not
// started) in it.
type SandboxRequest struct {
	// SandboxID names the guest; today it is the container's ID.
	SandboxID string
	// Namespace is the containerd namespace.
	Namespace string
	// ConfigPath is the runxen configuration file the runtime options
	// name; empty means the default.
	ConfigPath string
	// ConfigBody is a TOML configuration given inline in the runtime
	// options, used when ConfigPath is empty.
	ConfigBody []byte

	ContainerID string
	Bundle      string
	// Spec is the bundle's spec; the shim has run the host-side hooks.
	Spec *specs.Spec
	// RootfsDir is the host directory of the container's root.
	RootfsDir string
	// NetNSPath is the container's network namespace (the holder's).
	NetNSPath       string
	Terminal, Stdin bool
}

// Holder is a host process parked in the container's network namespace
// (runtime/netns).
type Holder interface {
	Pid() int
	NetNSPath() string
	Close() error
}

// Publisher queues task events for containerd (shim/events).
type Publisher interface {
	Send(evt events.Event)
}

// Env is the service's outside world: the real one in production
// (plugin.go), fakes in tests.
type Env struct {
	// Namespace is the containerd namespace the shim serves.
	Namespace string
	// Events receives the task events.
	Events Publisher
	// NewSandbox creates a guest with a created container in it.
	NewSandbox func(ctx context.Context, r SandboxRequest) (Sandbox, error)
	// NewHolder starts the network namespace holder for a container.
	NewHolder func(ctx context.Context, id string, spec *specs.Spec) (Holder, error)
	// RunHooks runs OCI hooks on the host with state on their stdin,
	// stopping at the first failure (shim/hooks.Run); RunAllHooks runs
	// them all and reports every failure (shim/hooks.RunAll, for
	// poststop).
	RunHooks    func(ctx context.Context, hooks []specs.Hook, state *specs.State) error
	RunAllHooks func(ctx context.Context, hooks []specs.Hook, state *specs.State) error
	// Mount mounts a container's rootfs mounts at target; Unmount undoes
	// it.
	Mount   func(mounts []mount.Mount, target string) error
	Unmount func(target string) error
	// Shutdown ends the shim (pkg/shim's shutdown service).
	Shutdown func()
}
