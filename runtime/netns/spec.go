package netns

import (
	"fmt"
	"path/filepath"

	"github.com/containerd/errdefs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Mode says where a holder's network namespace comes from.
type Mode int

const (
	// ModeHost: the spec has no network namespace entry, so the container
	// shares the runtime's (the host's) network, as runc would run it. The
	// holder stays in the host's namespace.
	ModeHost Mode = iota
	// ModeCreate: the spec asks for a network namespace without a path
	// (Docker 26 with its libnetwork-setkey prestart hook, ctr, Docker 28).
	// The holder gets a new, empty one.
	ModeCreate
	// ModeJoin: the spec names a namespace by path (CRI, nerdctl, Docker's
	// --network container:...). The holder joins it.
	ModeJoin
)

func (m Mode) String() string {
	switch m {
	case ModeHost:
		return "host"
	case ModeCreate:
		return "create"
	case ModeJoin:
		return "join"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// Plan is what a spec asks of the network namespace, decided before any
// process exists so that bad input leaves nothing behind.
type Plan struct {
	Mode Mode
	Path string // the namespace file to join (ModeJoin only)
}

// PlanFor reads spec.linux.namespaces. Errors wrap
// errdefs.ErrInvalidArgument and name the field.
func PlanFor(spec *specs.Spec) (Plan, error) {
	if spec == nil || spec.Linux == nil {
		return Plan{Mode: ModeHost}, nil
	}
	plan := Plan{Mode: ModeHost}
	found := -1
	for i, ns := range spec.Linux.Namespaces {
		if ns.Type != specs.NetworkNamespace {
			continue
		}
		field := fmt.Sprintf("linux.namespaces[%d]", i)
		if found >= 0 {
			return Plan{}, fmt.Errorf("%s: a second network namespace entry (the first is linux.namespaces[%d]): %w",
				field, found, errdefs.ErrInvalidArgument)
		}
		found = i
		if ns.Path == "" {
			plan = Plan{Mode: ModeCreate}
			continue
		}
		if !filepath.IsAbs(ns.Path) {
			return Plan{}, fmt.Errorf("%s.path %q: not an absolute path: %w", field, ns.Path, errdefs.ErrInvalidArgument)
		}
		plan = Plan{Mode: ModeJoin, Path: filepath.Clean(ns.Path)}
	}
	return plan, nil
}

// maxIDLen bounds a holder's id, which becomes its argv[1] and an
// environment value (containerd's own limit is 76).
const maxIDLen = 1024

func checkID(id string) error {
	if id == "" || len(id) > maxIDLen {
		return fmt.Errorf("holder id of %d bytes (want 1-%d): %w", len(id), maxIDLen, errdefs.ErrInvalidArgument)
	}
	for _, c := range []byte(id) {
		if c < 0x20 || c == 0x7f {
			return fmt.Errorf("holder id %q has control characters: %w", id, errdefs.ErrInvalidArgument)
		}
	}
	return nil
}
