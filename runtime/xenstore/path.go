package xenstore

import "strings"

// Special watch paths: events invented by xenstored rather than node
// changes. Pass them to Client.Watch.
const (
	// ReleaseDomain fires when any domain crashes, shuts down or is
	// destroyed, and on RELEASE. The event does not say which domain: the
	// watcher must check the domains it cares about.
	ReleaseDomain = "@releaseDomain"
	// IntroduceDomain fires when a domain is introduced to xenstored.
	IntroduceDomain = "@introduceDomain"
)

// validPathChar reports whether c may appear in a node path: ASCII
// alphanumerics and -/_@, as docs/misc/xenstore.txt and xenstored's
// valid_chars() allow.
func validPathChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '-' || c == '/' || c == '_' || c == '@'
}

// checkPath validates a node path for op. Paths are absolute ("/local/x")
// or relative ("device/vif/0", resolved by xenstored against the caller's
// /local/domain/<domid>); they are non-empty, have no doubled or trailing
// slash (except the root "/"), use only the permitted characters, and
// respect XENSTORE_ABS_PATH_MAX / XENSTORE_REL_PATH_MAX. It returns an
// *Error with Errno EINVAL, what xenstored would have answered.
func checkPath(op, path string) error {
	if path == "" {
		return invalid(op, path, "EINVAL", "empty path")
	}
	if path[0] == '@' {
		return invalid(op, sanitize(path, 64), "EINVAL", "special @ paths are only valid for watches")
	}
	if path[0] == '/' {
		if len(path) > AbsPathMax {
			return invalid(op, sanitize(path, 64)+"...", "EINVAL", "absolute path longer than XENSTORE_ABS_PATH_MAX (3072)")
		}
	} else if len(path) > RelPathMax {
		return invalid(op, sanitize(path, 64)+"...", "EINVAL", "relative path longer than XENSTORE_REL_PATH_MAX (2048)")
	}
	for i := 0; i < len(path); i++ {
		if !validPathChar(path[i]) {
			return invalid(op, sanitize(path, 128), "EINVAL", "path contains a character other than [A-Za-z0-9-/_@]")
		}
	}
	if path == "/" {
		return nil
	}
	if strings.Contains(path, "//") {
		return invalid(op, path, "EINVAL", "path contains a doubled slash")
	}
	if path[len(path)-1] == '/' {
		return invalid(op, path, "EINVAL", "path has a trailing slash")
	}
	return nil
}

// checkWatchPath accepts what checkPath accepts plus special "@..." paths,
// which may hold anything but NUL up to XENSTORE_REL_PATH_MAX.
func checkWatchPath(op, path string) error {
	if len(path) > 0 && path[0] == '@' {
		if len(path) == 1 {
			return invalid(op, path, "EINVAL", "empty special path")
		}
		if len(path) > RelPathMax {
			return invalid(op, sanitize(path, 64)+"...", "EINVAL", "special path longer than XENSTORE_REL_PATH_MAX (2048)")
		}
		if strings.IndexByte(path, 0) >= 0 {
			return invalid(op, sanitize(path, 128), "EINVAL", "path contains NUL")
		}
		return nil
	}
	return checkPath(op, path)
}
