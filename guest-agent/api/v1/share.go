package agent

import "fmt"

// MaxShareTagLen is the longest share tag: the 9pfs device's tag, which
// dom0 writes to xenstore and the guest's 9pnet_xen matches the mount
// source against.
const MaxShareTagLen = 63

// CheckShareTag reports whether tag is a valid share tag: 1 to
// MaxShareTagLen characters from [A-Za-z0-9._-]. Dom0 checks it when it
// offers a share, the agent when asked to mount one; the rule keeps a tag
// a single mount source and a safe xenstore value.
func CheckShareTag(tag string) error {
	if tag == "" || len(tag) > MaxShareTagLen {
		return fmt.Errorf("share tag %q: want 1 to %d characters", tag, MaxShareTagLen)
	}
	for i := 0; i < len(tag); i++ {
		c := tag[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("share tag %q: only letters, digits, '.', '_' and '-' are allowed", tag)
		}
	}
	return nil
}
