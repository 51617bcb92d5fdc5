package ocispec

import (
	"encoding/json"
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/runxen/runxen/guest-agent/speccheck"
	"github.com/runxen/runxen/runtime/config"
	"github.com/runxen/runxen/runtime/iolimit"
)

// Update is the translation of a resources update (docker update, the
// CRI's UpdateContainerResources).
type Update struct {
	// Shape holds the domain's new memory (MemoryMiB) and vCPUs, CPU
	// weight and cap, and affinity; a zero field stays as it is.
	Shape Shape
	// Resources is the guest's copy, for the agent's UpdateResources.
	Resources *specs.LinuxResources
	// IOLimits are the shares' new limits; nil leaves them.
	IOLimits *iolimit.Limits
	Notes    []string
}

// TranslateUpdate translates r, a container's new resources; annotations
// are the container's (their I/O limits win over blockIO throttles, as
// at creation). r is not changed.
func TranslateUpdate(r *specs.LinuxResources, s config.Config, annotations map[string]string) (*Update, error) {
	var p problems
	if r == nil {
		p.invalid("resources", "is empty")
		return nil, p.err()
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	b, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("copy resources: %w", err)
	}
	var g specs.LinuxResources
	if err := json.Unmarshal(b, &g); err != nil {
		return nil, fmt.Errorf("copy resources: %w", err)
	}
	u := &Update{Resources: &g}
	base := s.Shares.IOLimits.Limits()
	sh, throttled := resources(&p, &u.Notes, &g, "resources", s, true, base)
	u.Shape = sh
	if throttled != nil {
		l, err := annotatedLimits(annotations, *throttled)
		if err != nil {
			p.add(err)
		}
		u.IOLimits = &l
	}
	if err := speccheck.Resources(&g, GuestCapabilities()); err != nil {
		p.add(err)
	}
	if err := p.err(); err != nil {
		return nil, err
	}
	return u, nil
}
