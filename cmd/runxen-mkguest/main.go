// Command runxen-mkguest prepares what a runxen guest boots: the kernel
// (Debian's, fetched and cached, or one you supply) and initramfs images
// built reproducibly around a static /init: a minimal one, and the guest
// agent's, which carries Debian's runc.
//
//	runxen-mkguest kernel --cache ~/.cache/runxen --out build/guest
//	runxen-mkguest initramfs --init build/runxen-hello \
//	    --modules-dir build/guest/modules --out build/guest/initramfs.gz
//	runxen-mkguest agent-initramfs --agent build/runxen-agent --cache ~/.cache/runxen \
//	    --modules-dir build/guest/modules --out build/guest/agent.initramfs [--test-extras]
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/urfave/cli/v2"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := newApp().RunContext(ctx, os.Args); err != nil {
		fmt.Fprintf(os.Stderr, "runxen-mkguest: %v\n", err)
		os.Exit(1)
	}
}

func newApp() *cli.App {
	return &cli.App{
		Name:  "runxen-mkguest",
		Usage: "build the kernel and initramfs a runxen guest boots",
		// --file values are paths, which may contain commas.
		DisableSliceFlagSeparator: true,
		Commands:                  []*cli.Command{kernelCommand(), initramfsCommand(), agentInitramfsCommand()},
	}
}
