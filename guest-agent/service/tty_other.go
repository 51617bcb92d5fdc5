//go:build !linux

package service

import (
	"errors"
	"os"
)

func writeEOF(*os.File) error { return errors.ErrUnsupported }

func setWinsize(*os.File, uint16, uint16) error { return errors.ErrUnsupported }
