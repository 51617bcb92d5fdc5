package xenstore

import (
	"fmt"
	"strconv"
)

// Access is what a permission entry grants: one of the wire characters
// 'n', 'r', 'w', 'b'.
type Access byte

const (
	AccessNone  Access = 'n' // no access
	AccessRead  Access = 'r' // read only
	AccessWrite Access = 'w' // write only
	AccessBoth  Access = 'b' // read and write
)

// Valid reports whether a is one of the four defined values.
func (a Access) Valid() bool {
	return a == AccessNone || a == AccessRead || a == AccessWrite || a == AccessBoth
}

// CanRead reports whether a grants read access.
func (a Access) CanRead() bool { return a == AccessRead || a == AccessBoth }

// CanWrite reports whether a grants write access.
func (a Access) CanWrite() bool { return a == AccessWrite || a == AccessBoth }

func (a Access) String() string {
	switch a {
	case AccessNone:
		return "none"
	case AccessRead:
		return "read"
	case AccessWrite:
		return "write"
	case AccessBoth:
		return "both"
	}
	return fmt.Sprintf("Access(%#x)", byte(a))
}

// Permission is one entry of a node's permission list.
//
// A node's list is ordered and its first entry is special: Domain is the
// node's owner (who always has full access and may change the list) and
// Access is what every domain not listed later gets. Later entries grant
// Access to Domain. Dom0 (and other privileged domains) bypass all checks.
type Permission struct {
	Domain uint32
	Access Access
}

// String returns the wire form: the access character and the decimal
// domid, e.g. "r5".
func (p Permission) String() string {
	return string(rune(p.Access)) + strconv.FormatUint(uint64(p.Domain), 10)
}

// ParsePermission parses the wire form of one permission, e.g. "b0".
func ParsePermission(s string) (Permission, error) {
	if len(s) < 2 || len(s) > 11 {
		return Permission{}, fmt.Errorf("xenstore: malformed permission %q", sanitize(s, 32))
	}
	a := Access(s[0])
	if !a.Valid() {
		return Permission{}, fmt.Errorf("xenstore: permission %q has unknown access %q", sanitize(s, 32), sanitize(s[:1], 1))
	}
	for i := 1; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return Permission{}, fmt.Errorf("xenstore: permission %q has a malformed domid", sanitize(s, 32))
		}
	}
	d, err := strconv.ParseUint(s[1:], 10, 32)
	if err != nil {
		return Permission{}, fmt.Errorf("xenstore: permission %q has an out of range domid", sanitize(s, 32))
	}
	return Permission{Domain: uint32(d), Access: a}, nil
}
