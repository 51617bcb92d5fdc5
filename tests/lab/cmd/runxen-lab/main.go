// Command runxen-lab drives the Xen lab by hand: `make demo`, `make lab-shell` and
// `make lab-clean` call it. Tests use the lab package directly.
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
	app := &cli.App{
		Name:  "runxen-lab",
		Usage: "build, boot and use the runxen Xen lab (Xen + Debian dom0 under QEMU)",
		Commands: []*cli.Command{
			{Name: "demo", Usage: "boot the lab and run a Xen PV guest whose init is runxen code", Action: demo},
			{Name: "shell", Usage: "boot the lab and open an interactive dom0 shell", Action: shell},
			{Name: "boot", Usage: "boot the lab and keep it running until interrupted", Action: boot},
			{Name: "clean", Usage: "remove the lab cache", Action: clean},
		},
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := app.RunContext(ctx, os.Args); err != nil {
		fmt.Fprintln(os.Stderr, "runxen-lab:", err)
		os.Exit(1)
	}
}
