// Command runxen-agent is the guest agent: PID 1 of every runxen guest,
// serving the Agent ttrpc API to the shim in dom0 over a vchan. Off Xen it
// can serve on a unix socket (--listen unix:///path) for tests.
//
// Linked as /sbin/poweroff or /sbin/reboot, it asks the running agent (PID
// 1) to shut the guest down, which is what the kernel runs when Xen asks
// the guest to power off.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/runxen/runxen/guest-agent/boot"
	"github.com/runxen/runxen/guest-agent/runc"
	"github.com/runxen/runxen/guest-agent/service"
)

func main() {
	switch name := filepath.Base(os.Args[0]); name {
	case "poweroff", "reboot", "halt":
		if err := boot.Forward(name); err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
			os.Exit(1)
		}
		return
	}
	var opts boot.Options
	flag.StringVar(&opts.Listen, "listen", "vchan", `where to serve: "vchan" (to dom0) or "unix:///path"`)
	flag.StringVar(&opts.LogLevel, "log-level", "", "log level (default: the kernel's runxen.log=, else info)")
	flag.StringVar(&opts.Runc.Binary, "runc", runc.DefaultBinary, "runc binary")
	flag.StringVar(&opts.Runc.Root, "runc-root", runc.DefaultRoot, "runc state directory")
	flag.StringVar(&opts.Runc.SocketDir, "console-socket-dir", runc.DefaultSocketDir, "directory for runc console sockets")
	flag.StringVar(&opts.BundleDir, "bundle-dir", service.DefaultBundleDir, "directory for container bundles")
	version := flag.Bool("version", false, "print the version and exit")
	flag.Parse()
	if *version {
		fmt.Println("runxen-agent", service.BuildVersion())
		return
	}
	if err := boot.Run(context.Background(), opts); err != nil {
		fmt.Fprintf(os.Stderr, "runxen-agent: %v\n", err)
		os.Exit(1)
	}
}
