//go:build !linux

package shares

import "errors"

var errNotLinux = errors.New("shares: mounting needs Linux")

func sysMount(source, target, fstype string, flags uintptr, data string) error { return errNotLinux }

func sysSync() {}

func mountShare(mount func(source, target, fstype string, flags uintptr, data string) error, q Request) error {
	return errNotLinux
}
