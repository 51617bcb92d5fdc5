//go:build !linux

package sysinit

import "errors"

// A guest's PID 1 only ever runs on Linux; these let packages that import
// sysinit build (and be tested) elsewhere.

// MountBase is not supported outside Linux.
func MountBase() error { return errors.ErrUnsupported }

// LoadModules is not supported outside Linux.
func LoadModules(string) (int, error) { return 0, errors.ErrUnsupported }

// PowerOff is not supported outside Linux.
func PowerOff() error { return errors.ErrUnsupported }

// ReapChildren is not supported outside Linux.
func ReapChildren() ([]Exited, error) { return nil, errors.ErrUnsupported }
