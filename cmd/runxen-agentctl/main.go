// Command runxen-agentctl runs a command in a fresh Xen PV guest through
// runxen's guest agent, from dom0, for humans and demos:
//
//	runxen-agentctl run --kernel /lab/payload/bin/guest/vmlinuz \
//	    --initramfs /lab/payload/bin/guest/agent-test.initramfs \
//	    --rootfs /rootfs/busybox [--memory 256] [--vcpus 1] [-t] [-i] [--timings] \
//	    -- sh -c 'echo hi; exit 3'
//
// run creates the domain (paused), lets it boot, connects to its agent over
// vchan, runs the command as a container with a default OCI spec (see
// agentclient.DefaultSpec), connects its stdio (and terminal, in raw mode,
// following resizes) to runxen-agentctl's, exits with the container's exit
// status and always destroys the domain, on errors and signals too. Its own
// failures exit with status 125, as docker run's do.
//
// ping connects to the agent of a running domain and prints its version.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"

	"github.com/urfave/cli/v2"
)

// exitRuntimeError is the exit status of a failure of runxen-agentctl
// itself, as opposed to the container's (docker's convention).
const exitRuntimeError = 125

func main() {
	// A signal cancels the context: whatever runs stops, and run tears the
	// guest down before returning.
	ctx, cancel := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	var caught atomic.Int32
	go func() {
		s := <-sigs
		if n, ok := s.(syscall.Signal); ok {
			caught.Store(int32(n))
		}
		cancel()
	}()
	code := 0
	err := newApp(&code).RunContext(ctx, os.Args)
	if err != nil {
		fmt.Fprintf(os.Stderr, "runxen-agentctl: %v\n", err)
		if code == 0 {
			code = exitRuntimeError
		}
	}
	if n := caught.Load(); n != 0 {
		code = 128 + int(n)
	}
	os.Exit(code)
}

func newApp(code *int) *cli.App {
	return &cli.App{
		Name:                      "runxen-agentctl",
		Usage:                     "run a command in a fresh Xen PV guest through the runxen agent",
		DisableSliceFlagSeparator: true,
		Commands:                  []*cli.Command{runCommand(code), pingCommand()},
	}
}
