//go:build linux

package service

import (
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// writeEOF ends a terminal's input as a user would, with the terminal's
// end-of-file character (^D unless the process changed it): closing the
// master instead would hang up the terminal and lose its output.
func writeEOF(con *os.File) error {
	eof := byte(4)
	if rc, err := con.SyscallConn(); err == nil {
		_ = rc.Control(func(fd uintptr) {
			if t, err := unix.IoctlGetTermios(int(fd), unix.TCGETS); err == nil && t.Cc[unix.VEOF] != 0 {
				eof = t.Cc[unix.VEOF]
			}
		})
	}
	_ = con.SetWriteDeadline(time.Now().Add(time.Second))
	defer con.SetWriteDeadline(time.Time{})
	_, err := con.Write([]byte{eof})
	return err
}

// setWinsize sets a terminal's size through its (pollable) master, without
// Fd(), which would make it blocking.
func setWinsize(con *os.File, cols, rows uint16) error {
	rc, err := con.SyscallConn()
	if err != nil {
		return err
	}
	var ierr error
	if err := rc.Control(func(fd uintptr) {
		ierr = unix.IoctlSetWinsize(int(fd), unix.TIOCSWINSZ, &unix.Winsize{Row: rows, Col: cols})
	}); err != nil {
		return err
	}
	return ierr
}
