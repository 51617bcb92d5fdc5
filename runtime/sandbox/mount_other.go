//go:build !linux

package sandbox

import "errors"

type hostMounter struct{}

var errNoMounts = errors.New("bind mounts need Linux")

func (hostMounter) BindFile(src, dst string, ro bool) error { return errNoMounts }
func (hostMounter) Unmount(dst string) error                { return nil }
