package shares

import (
	"fmt"
	"path/filepath"

	"github.com/runxen/runxen/runtime/iolimit"
)

// MaxTagLen is the longest mount tag: xen9pfs writes it to xenstore and
// Linux's 9pnet_xen reads it back from there, matching the mount source
// against it.
const MaxTagLen = 63

// Spec describes one share.
type Spec struct {
	// Tag names the share in the guest (mount -t 9p -o trans=xen TAG DIR):
	// 1 to MaxTagLen characters from [A-Za-z0-9._-], unique in the domain.
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

// CheckTag reports whether tag is a valid mount tag. The guest agent
// applies the same rule to MountShare requests.
func CheckTag(tag string) error {
	if tag == "" || len(tag) > MaxTagLen {
		return fmt.Errorf("share tag %q: want 1 to %d characters", tag, MaxTagLen)
	}
	for i := 0; i < len(tag); i++ {
		c := tag[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("share tag %q: only letters, digits, '.', '_' and '-' are allowed", tag)
		}
	}
	return nil
}

func (s Spec) check() error {
	if err := CheckTag(s.Tag); err != nil {
		return err
	}
	if !filepath.IsAbs(s.Dir) {
		return fmt.Errorf("share %q: directory %q is not an absolute path", s.Tag, s.Dir)
	}
	return nil
}
