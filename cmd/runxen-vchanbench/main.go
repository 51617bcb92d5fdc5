//go:build linux

// Command runxen-vchanbench proves runtime/vchan against Xen's own C
// libxenvchan on real Xen, and measures the two, dom0 <-> guest.
//
// As the guest role it is PID 1 of a bench initramfs (or a plain process,
// for trying it out): it serves the bench protocol (proto.go) at once on a
// Go vchan server per ring size (runtime/vchan) and behind Xen's
// vchan-socket-proxy in server mode (libxenvchan) bridged to a local unix
// socket, each at its own xenstore path, and powers the guest off when told
// (or after vchanbench.timeout).
//
// As the host role (dom0) it connects to each of the guest's endpoints both
// with runtime/vchan and through vchan-socket-proxy in client mode, runs
// interop checks (data both ways with SHA-256, ttrpc, end-of-stream) and a
// benchmark (throughput both ways, raw and ttrpc round-trip latency), and
// prints a table with the ratio of each pair to libxenvchan on both ends.
//
//	runxen-vchanbench guest [-rings 0,65536] [-peer 0] [-proxy PATH] [-timeout 30m]
//	runxen-vchanbench host -domid N [-interop] [-bench] [-shutdown] [...]
//
// As /init the guest role takes its options from the kernel command line
// as vchanbench.NAME=VALUE (vchanbench.rings=0,65536 vchanbench.timeout=40m).
//
// Build it static: CGO_ENABLED=0 go build ./cmd/runxen-vchanbench
package main

import (
	"errors"
	"fmt"
	"os"
)

func main() {
	args := os.Args[1:]
	role := ""
	if len(args) > 0 {
		role, args = args[0], args[1:]
	}
	if os.Getpid() == 1 {
		// As a guest's /init there are no arguments.
		role, args = "guest", nil
	}
	var err error
	switch role {
	case "guest":
		err = guestMain(args)
	case "host":
		err = hostMain(args)
	default:
		err = errUsage
	}
	if errors.Is(err, errUsage) {
		fmt.Fprintln(os.Stderr, "usage: runxen-vchanbench guest [flags] | host -domid N [-interop] [-bench] [-shutdown] [flags]  (-h for flags)")
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "runxen-vchanbench %s: %v\n", role, err)
		os.Exit(1)
	}
}
