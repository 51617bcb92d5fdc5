//go:build linux

package sharefs

import (
	"strings"

	"golang.org/x/sys/unix"

	"github.com/runxen/runxen/runtime/p9"
)

// Extended attributes, by namespace:
//
//   - user.*: stored as given.
//   - security.capability: stored as given, so file capabilities (ping's
//     cap_net_raw, ...) survive docker commit, as with runc. Other security.*
//     names are LSM labels of dom0 (SELinux, IMA, EVM): hidden and refused.
//   - system.posix_acl_access, system.posix_acl_default: POSIX ACLs, stored
//     as given (their user and group ids are the guest's, as with runc). Other
//     system.* names are not supported.
//   - trusted.*: dom0's privileged namespace (overlayfs keeps its whiteout,
//     opaque and redirect metadata there): hidden and refused, so a guest
//     can neither read nor forge it.
//
// Linux has no xattr call on an O_PATH descriptor before 6.13, so these go
// through /proc/self/fd/N, which names exactly the fid's inode (a symlink's
// own attributes, never its target's).
const (
	xattrSizeMax = 64 << 10 // XATTR_SIZE_MAX
	xattrListMax = 64 << 10 // XATTR_LIST_MAX
)

type xattrAccess int

const (
	xattrUnsupported xattrAccess = iota // EOPNOTSUPP
	xattrHidden                         // ENODATA on get, EPERM on set
	xattrAllowed
)

func xattrPolicy(name string) xattrAccess {
	switch {
	case strings.HasPrefix(name, "user."):
		return xattrAllowed
	case name == "security.capability":
		return xattrAllowed
	case name == "system.posix_acl_access", name == "system.posix_acl_default":
		return xattrAllowed
	case strings.HasPrefix(name, "security."), strings.HasPrefix(name, "trusted."):
		return xattrHidden
	default:
		return xattrUnsupported
	}
}

func checkXattrName(name string) (xattrAccess, error) {
	if name == "" || len(name) > 255 || strings.IndexByte(name, 0) >= 0 {
		return 0, unix.ERANGE
	}
	return xattrPolicy(name), nil
}

// GetXattr implements p9.File.GetXattr.
func (f *file) GetXattr(name string) ([]byte, error) {
	access, err := checkXattrName(name)
	if err != nil {
		return nil, err
	}
	switch access {
	case xattrUnsupported:
		return nil, unix.EOPNOTSUPP
	case xattrHidden:
		return nil, unix.ENODATA
	}
	if err := f.sess.waitRead(0); err != nil {
		return nil, err
	}
	path := procFD(f.fd)
	for range 3 { // the value may grow between sizing and reading
		n, err := unix.Getxattr(path, name, nil)
		if err != nil {
			return nil, errnoErr("getxattr", err)
		}
		if n > xattrSizeMax {
			return nil, unix.E2BIG
		}
		buf := make([]byte, n)
		if n == 0 {
			return buf, nil
		}
		n, err = unix.Getxattr(path, name, buf)
		if err == unix.ERANGE {
			continue
		}
		if err != nil {
			return nil, errnoErr("getxattr", err)
		}
		return buf[:n], nil
	}
	return nil, unix.ERANGE
}

// ListXattrs implements p9.File.ListXattrs, leaving out hidden and
// unsupported names.
func (f *file) ListXattrs() ([]string, error) {
	if err := f.sess.waitRead(0); err != nil {
		return nil, err
	}
	path := procFD(f.fd)
	var buf []byte
	for range 3 {
		n, err := unix.Listxattr(path, nil)
		if err != nil {
			return nil, errnoErr("listxattr", err)
		}
		if n > xattrListMax {
			return nil, unix.E2BIG
		}
		buf = make([]byte, n)
		if n == 0 {
			break
		}
		n, err = unix.Listxattr(path, buf)
		if err == unix.ERANGE {
			buf = nil
			continue
		}
		if err != nil {
			return nil, errnoErr("listxattr", err)
		}
		buf = buf[:n]
		break
	}
	if buf == nil {
		return nil, unix.ERANGE
	}
	var names []string
	for _, name := range strings.Split(string(buf), "\x00") {
		if name != "" && xattrPolicy(name) == xattrAllowed {
			names = append(names, name)
		}
	}
	return names, nil
}

// SetXattr implements p9.File.SetXattr.
func (f *file) SetXattr(name string, data []byte, flags p9.XattrFlags) error {
	access, err := checkXattrName(name)
	if err != nil {
		return err
	}
	if flags&^(p9.XattrCreate|p9.XattrReplace) != 0 {
		return unix.EINVAL
	}
	if len(data) > xattrSizeMax {
		return unix.E2BIG
	}
	switch {
	case f.readOnly():
		return unix.EROFS
	case access == xattrUnsupported:
		return unix.EOPNOTSUPP
	case access == xattrHidden:
		return unix.EPERM
	}
	if err := f.sess.waitWrite(0); err != nil {
		return err
	}
	return errnoErr("setxattr", unix.Setxattr(procFD(f.fd), name, data, int(flags)))
}

// RemoveXattr implements p9.File.RemoveXattr.
func (f *file) RemoveXattr(name string) error {
	access, err := checkXattrName(name)
	if err != nil {
		return err
	}
	switch {
	case f.readOnly():
		return unix.EROFS
	case access == xattrUnsupported:
		return unix.EOPNOTSUPP
	case access == xattrHidden:
		return unix.EPERM
	}
	if err := f.sess.waitWrite(0); err != nil {
		return err
	}
	return errnoErr("removexattr", unix.Removexattr(procFD(f.fd), name))
}
