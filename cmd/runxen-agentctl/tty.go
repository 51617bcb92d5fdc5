package main

import (
	"io"
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/term"
)

// setupTerminal prepares our side of a container terminal. The size comes
// from stdin's terminal, or stdout's; none if neither is one (the container
// still gets a pty). With interactive input on a terminal, that terminal is
// put in raw mode, so that keys (^C included) go to the container, as with
// docker run -it; without -i it is left alone, and ^C stops runxen-agentctl,
// which tears the guest down. restore undoes all of it.
func setupTerminal(stdin io.Reader, interactive bool) (restore func(), size termSize, resizes <-chan termSize, err error) {
	fd := -1
	if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fd = int(f.Fd())
	} else if term.IsTerminal(int(os.Stdout.Fd())) {
		fd = int(os.Stdout.Fd())
	}
	if fd < 0 {
		return func() {}, termSize{}, nil, nil
	}
	getSize := func() termSize {
		w, h, err := term.GetSize(fd)
		if err != nil || w <= 0 || h <= 0 || w > 0xffff || h > 0xffff {
			return termSize{}
		}
		return termSize{width: uint16(w), height: uint16(h)}
	}
	var old *term.State
	if f, ok := stdin.(*os.File); ok && interactive && int(f.Fd()) == fd {
		old, err = term.MakeRaw(fd)
		if err != nil {
			return nil, termSize{}, nil, err
		}
	}
	winch := make(chan os.Signal, 1)
	signal.Notify(winch, syscall.SIGWINCH)
	out := make(chan termSize, 1)
	stop := make(chan struct{})
	go func() {
		for {
			select {
			case <-winch:
			case <-stop:
				return
			}
			sz := getSize()
			if sz == (termSize{}) {
				continue
			}
			// Only the latest size matters: replace one not yet taken.
			select {
			case <-out:
			default:
			}
			out <- sz
		}
	}()
	restore = func() {
		signal.Stop(winch)
		close(stop)
		if old != nil {
			_ = term.Restore(fd, old)
		}
	}
	return restore, getSize(), out, nil
}
