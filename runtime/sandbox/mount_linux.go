package sandbox

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// hostMounter is the real Mounter.
type hostMounter struct{}

func (hostMounter) BindFile(src, dst string, ro bool) error {
	if err := unix.Mount(src, dst, "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("bind %s on %s: %w", src, dst, err)
	}
	if ro {
		// A bind mount is made read-write; read-only needs a remount.
		if err := unix.Mount("", dst, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY, ""); err != nil {
			_ = unix.Unmount(dst, unix.MNT_DETACH)
			return fmt.Errorf("make %s read-only: %w", dst, err)
		}
	}
	return nil
}

func (hostMounter) Unmount(dst string) error {
	err := unix.Unmount(dst, unix.MNT_DETACH)
	if err == nil || errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOENT) {
		// EINVAL: nothing mounted there.
		return nil
	}
	return fmt.Errorf("unmount %s: %w", dst, err)
}
