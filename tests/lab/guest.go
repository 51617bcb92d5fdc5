package lab

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// PayloadGuestDir is where the repository's bin/guest/ (guest kernel and initramfs images)
// appears in dom0.
const PayloadGuestDir = "/lab/payload/bin/guest"

// GuestConfig is a PV guest for xl.
type GuestConfig struct {
	Name            string
	Kernel, Ramdisk string // dom0 paths
	Cmdline         string
	MemoryMiB       int
	VCPUs           int
}

func (g GuestConfig) xlConfig() string {
	return fmt.Sprintf(`name=%q
type="pv"
kernel=%q
ramdisk=%q
extra=%q
memory=%d
vcpus=%d
on_poweroff="destroy"
on_reboot="destroy"
on_crash="destroy"
`, g.Name, g.Kernel, g.Ramdisk, g.Cmdline, g.MemoryMiB, g.VCPUs)
}

// GuestRun is what a guest did, with the time each phase took.
type GuestRun struct {
	DomID int
	// Create is how long `xl create` took; Boot how long from then until the marker appeared on
	// the guest's console; Gone how long from the marker until the domain had disappeared.
	Create, Boot, Gone time.Duration
	Console            string
}

// GuestConsolePath is where xenconsoled writes a guest's console in dom0.
func GuestConsolePath(name string) string { return "/var/log/xen/guest-" + name + ".log" }

// RunGuest creates a PV guest, waits for marker on its console, then waits for the domain to
// go away by itself (the guest powers off). On any failure the domain is destroyed.
func (l *Lab) RunGuest(ctx context.Context, g GuestConfig, marker string, timeout time.Duration) (*GuestRun, error) {
	cfg := "/run/runxen-lab/" + g.Name + ".cfg"
	if err := l.WriteFile(ctx, cfg, []byte(g.xlConfig()), 0o644); err != nil {
		return nil, err
	}
	run := &GuestRun{DomID: -1}
	var r *Result
	if _, err := l.p.step("xl create "+g.Name, func(func(string)) error {
		var err error
		if r, err = l.Run(ctx, "xl", "create", cfg); err != nil {
			return err
		}
		if r.ExitCode != 0 {
			return fmt.Errorf("xl create %s: exit %d: %s", g.Name, r.ExitCode, r.Stderr)
		}
		return nil
	}); err != nil {
		return nil, err
	}
	run.Create = time.Duration(r.Millis) * time.Millisecond
	created := time.Now()
	fail := func(err error) (*GuestRun, error) {
		_, _ = l.Run(context.Background(), "xl", "destroy", g.Name)
		return run, err
	}
	if r, err := l.Run(ctx, "xl", "domid", g.Name); err == nil && r.ExitCode == 0 {
		run.DomID, _ = strconv.Atoi(strings.TrimSpace(string(r.Stdout)))
	}

	deadline := created.Add(timeout)
	if _, err := l.p.step(fmt.Sprintf("guest %s boot until %q on its console", g.Name, marker), func(func(string)) error {
		for {
			b, _ := l.ReadFile(ctx, GuestConsolePath(g.Name))
			run.Console = string(b)
			if strings.Contains(run.Console, marker) {
				run.Boot = time.Since(created)
				return nil
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("guest %s: no %q on its console after %s; console tail:\n%s", g.Name, marker, timeout, tail(run.Console, 2000))
			}
			time.Sleep(time.Second)
		}
	}); err != nil {
		return fail(err)
	}

	seen := time.Now()
	for {
		r, err := l.Run(ctx, "xl", "domid", g.Name)
		if err != nil {
			return fail(err)
		}
		if r.ExitCode != 0 {
			run.Gone = time.Since(seen)
			return run, nil
		}
		if time.Since(seen) > 2*time.Minute {
			return fail(fmt.Errorf("guest %s still exists 2m after %q", g.Name, marker))
		}
		time.Sleep(time.Second)
	}
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}
