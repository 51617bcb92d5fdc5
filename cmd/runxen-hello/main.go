//go:build linux

// Command runxen-hello is the smallest useful guest /init, the lab's first
// proof that a runxen guest works: as PID 1 it mounts the kernel file
// systems, loads the initramfs's modules, reports what it sees on the
// console, prints RUNXEN_HELLO_OK (or RUNXEN_HELLO_FAIL: reason) for the
// harness to wait for, and powers the domain off.
//
// Build it static: CGO_ENABLED=0 go build ./cmd/runxen-hello
package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/runxen/runxen/guest-agent/sysinit"
)

func main() {
	if os.Getpid() != 1 {
		// Powering off is only right for a guest's init, never for a
		// developer who ran the binary by mistake.
		fmt.Fprintln(os.Stderr, "runxen-hello: refusing to run: not PID 1 (this is a guest /init)")
		os.Exit(2)
	}
	if err := run(); err != nil {
		fmt.Printf("RUNXEN_HELLO_FAIL: %v\n", err)
	} else {
		fmt.Println("RUNXEN_HELLO_OK")
	}
	err := sysinit.PowerOff()
	fmt.Printf("runxen-hello: %v\n", err)
	// PID 1 exiting panics the kernel, which still ends the domain.
	os.Exit(1)
}

func run() error {
	fmt.Println("runxen-hello: starting")
	if err := sysinit.MountBase(); err != nil {
		return err
	}
	n, err := sysinit.LoadModules("/etc/runxen/modules.load")
	if err != nil {
		return err
	}
	hv, err := os.ReadFile("/sys/hypervisor/type")
	if err != nil {
		return fmt.Errorf("read hypervisor type: %w", err)
	}
	var uts unix.Utsname
	if err := unix.Uname(&uts); err != nil {
		return fmt.Errorf("uname: %w", err)
	}
	up, err := os.ReadFile("/proc/uptime")
	if err != nil {
		return fmt.Errorf("read uptime: %w", err)
	}
	uptime, err := parseUptime(string(up))
	if err != nil {
		return err
	}
	fmt.Printf("runxen-hello: hypervisor=%s kernel=%s uptime=%s modules=%d\n",
		strings.TrimSpace(string(hv)), unix.ByteSliceToString(uts.Release[:]), uptime, n)
	return nil
}

// parseUptime returns the seconds since boot from /proc/uptime ("12.34
// 40.12"), as the kernel wrote them.
func parseUptime(s string) (string, error) {
	f := strings.Fields(s)
	if len(f) == 0 {
		return "", errors.New("empty /proc/uptime")
	}
	return f[0], nil
}
