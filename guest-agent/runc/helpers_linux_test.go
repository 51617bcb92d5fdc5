//go:build linux

package runc

import (
	"errors"
	"os"
)

var errTest = errors.New("exit status 1")

func openAppend(p string) (*os.File, error) {
	return os.OpenFile(p, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
}
