package shares

import (
	"fmt"
	"path/filepath"

	agent "github.com/runxen/runxen/guest-agent/api/v1"
	"github.com/runxen/runxen/runtime/iolimit"
)

// Spec describes one share.
type Spec struct {
	// Tag names the share in the guest (mount -t 9p -o trans=xen TAG DIR,
	// or the agent's MountShare): 1 to 63 characters from [A-Za-z0-9._-]
	// (agent.CheckShareTag), unique in the domain.
	Tag string
	// Dir is the host directory served, absolute: the container's root
	// file system (spec.Root.Path) or a volume's source. It is opened
	// when the share is added; renaming the path later changes nothing.
	Dir string
	// ReadOnly makes the file server refuse every change with EROFS,
	// whatever the guest's mount options say.
	ReadOnly bool
	// Limits are the share's initial I/O limits (zero: unlimited);
	// SetLimits changes them while the guest runs.
	Limits iolimit.Limits
}

func (s Spec) check() error {
	if err := agent.CheckShareTag(s.Tag); err != nil {
		return err
	}
	if !filepath.IsAbs(s.Dir) {
		return fmt.Errorf("share %q: directory %q is not an absolute path", s.Tag, s.Dir)
	}
	return nil
}
