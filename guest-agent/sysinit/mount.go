package sysinit

import (
	"errors"
	"fmt"
	"os"
)

// mountSpec is one file system PID 1 mounts.
type mountSpec struct {
	source, target, fstype string
	flags                  uintptr
	data                   string
}

// mounter is the part of the system MountBase touches, so its decisions can
// be tested without root.
type mounter interface {
	mkdirAll(path string) error
	mount(m mountSpec) error
	// mounted returns the current mount points; an empty set if /proc is
	// not mounted yet.
	mounted() (map[string]bool, error)
}

// errBusy is what mounter.mount returns when the target is in use, which
// here means someone (the kernel's devtmpfs automount, an earlier run)
// already mounted it.
var errBusy = errors.New("target busy")

func mountAll(sys mounter, specs []mountSpec) error {
	mounted, err := sys.mounted()
	if err != nil {
		return err
	}
	for _, m := range specs {
		if mounted[m.target] {
			continue
		}
		if err := sys.mkdirAll(m.target); err != nil {
			return fmt.Errorf("create mount point %s: %w", m.target, err)
		}
		if err := sys.mount(m); err != nil && !errors.Is(err, errBusy) {
			return fmt.Errorf("mount %s on %s: %w", m.fstype, m.target, err)
		}
		if m.fstype == "proc" {
			// Only now can we see what the kernel mounted before us.
			if mounted, err = sys.mounted(); err != nil {
				return err
			}
		}
	}
	return nil
}

// readMounted reads the mount points of /proc/self/mountinfo.
func readMounted() (map[string]bool, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if errors.Is(err, os.ErrNotExist) {
		return map[string]bool{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read mount table: %w", err)
	}
	defer f.Close()
	infos, err := ParseMountInfo(f)
	if err != nil {
		return nil, err
	}
	set := make(map[string]bool, len(infos))
	for _, i := range infos {
		set[i.MountPoint] = true
	}
	return set, nil
}
