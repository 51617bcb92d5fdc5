package service

import (
	"fmt"
	"regexp"

	"github.com/containerd/errdefs"
)

// Limits on request sizes. ttrpc itself caps a message at 4 MiB; these
// keep each field well inside that and bound what one request can make the
// agent allocate.
const (
	// MaxIDLength is containerd's limit on identifiers.
	MaxIDLength = 76
	// MaxSpecSize bounds CreateContainerRequest.spec. Real specs are a few
	// KiB; large environments make them tens of KiB.
	MaxSpecSize = 2 << 20
	// MaxProcessSize bounds ExecProcessRequest.process.
	MaxProcessSize = 1 << 20
	// MaxResourcesSize bounds UpdateResourcesRequest.resources.
	MaxResourcesSize = 64 << 10
	// MaxStdinWrite bounds one WriteStdinRequest.
	MaxStdinWrite = 1 << 20
	// MaxSignal is SIGRTMAX on Linux.
	MaxSignal = 64
)

// idRE is containerd's identifier grammar (pkg/identifiers): letters and
// digits, with single '.', '_' or '-' between them. It also makes an ID a
// safe path component: no '/', no "." or "..".
var idRE = regexp.MustCompile(`^[A-Za-z0-9]+(?:[._-][A-Za-z0-9]+)*$`)

func checkID(field, id string) error {
	switch {
	case id == "":
		return fmt.Errorf("%s is empty: %w", field, errdefs.ErrInvalidArgument)
	case len(id) > MaxIDLength:
		return fmt.Errorf("%s is %d bytes, longer than %d: %w", field, len(id), MaxIDLength, errdefs.ErrInvalidArgument)
	case !idRE.MatchString(id):
		return fmt.Errorf("%s %q: only letters, digits and single '.', '_', '-' between them are allowed: %w", field, id, errdefs.ErrInvalidArgument)
	}
	return nil
}

// checkExecID accepts "" (the init process) or a valid ID.
func checkExecID(id string) error {
	if id == "" {
		return nil
	}
	return checkID("exec_id", id)
}

func checkSize(field string, n, limit int) error {
	if n > limit {
		return fmt.Errorf("%s is %d bytes, more than the %d allowed: %w", field, n, limit, errdefs.ErrInvalidArgument)
	}
	return nil
}
