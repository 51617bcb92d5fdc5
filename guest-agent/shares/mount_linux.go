package shares

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

func sysMount(source, target, fstype string, flags uintptr, data string) error {
	return unix.Mount(source, target, fstype, flags, data)
}

func sysSync() { unix.Sync() }

// mountShare opens (creating) q.Target and mounts the share on it.
func mountShare(mount func(source, target, fstype string, flags uintptr, data string) error, q Request) error {
	fd, err := openTarget(q.Target)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	var flags uintptr
	if q.ReadOnly {
		flags |= unix.MS_RDONLY
	}
	// The mount goes on the directory opened, whatever its path now
	// resolves to.
	err = mount(q.Tag, "/proc/self/fd/"+strconv.Itoa(fd), "9p", flags, q.Options())
	if err != nil {
		hint := ""
		if errors.Is(err, unix.EINVAL) {
			hint = " (is the share's device connected, and the tag right?)"
		}
		return fmt.Errorf("mount share %q at %s (%s): %w%s", q.Tag, q.Target, q.Options(), err, hint)
	}
	return nil
}

// openTarget returns an O_PATH descriptor of the directory target (an
// absolute clean path), creating missing directories one component at a
// time and refusing any component that is a symbolic link.
func openTarget(target string) (int, error) {
	fd, err := unix.Open("/", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("open /: %w", err)
	}
	at := ""
	for _, name := range strings.Split(target[1:], "/") {
		at += "/" + name
		if err := unix.Mkdirat(fd, name, 0o755); err != nil && !errors.Is(err, unix.EEXIST) {
			unix.Close(fd)
			return -1, fmt.Errorf("share target %s: create %s: %w", target, at, err)
		}
		next, err := unix.Openat(fd, name, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		unix.Close(fd)
		if err != nil {
			if errors.Is(err, unix.ENOTDIR) || errors.Is(err, unix.ELOOP) {
				return -1, fmt.Errorf("share target %s: %s is a symbolic link or not a directory: %w", target, at, err)
			}
			return -1, fmt.Errorf("share target %s: open %s: %w", target, at, err)
		}
		fd = next
	}
	return fd, nil
}
