package hooks

import (
	"maps"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// NewState builds the OCI state a hook reads on stdin. pid is the task's
// host PID, the network namespace holder's (runtime/netns); the statuses
// the shim passes are in docs/design/hooks-and-netns.md: creating for
// prestart and createRuntime, running for poststart, stopped for
// poststop.
func NewState(id string, status specs.ContainerState, pid int, bundle string, annotations map[string]string) *specs.State {
	return &specs.State{
		Version:     specs.Version,
		ID:          id,
		Status:      status,
		Pid:         pid,
		Bundle:      bundle,
		Annotations: maps.Clone(annotations),
	}
}
