package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/runxen/runxen/tests/lab"
	"github.com/urfave/cli/v2"
	"golang.org/x/term"
)

func boot(c *cli.Context) error {
	l, err := lab.Start(c.Context, lab.Options{})
	if err != nil {
		return err
	}
	defer l.Stop()
	fmt.Printf("lab running; console: %s; press Ctrl-C to stop\n", l.ConsolePath())
	<-c.Context.Done()
	return nil
}

func demo(c *cli.Context) error {
	l, err := lab.Start(c.Context, lab.Options{})
	if err != nil {
		return err
	}
	defer l.Stop()
	dom0, err := l.Sh(c.Context, "uname -r; xl info | grep -E '^(xen_version|xen_caps)'")
	if err != nil {
		return err
	}
	fmt.Printf("\ndom0 (kernel, Xen):\n%s\n", indent(string(dom0.Stdout)))
	g := lab.GuestConfig{
		Name:      "runxen-demo",
		Kernel:    lab.PayloadGuestDir + "/vmlinuz",
		Ramdisk:   lab.PayloadGuestDir + "/hello.initramfs",
		Cmdline:   "console=hvc0 quiet",
		MemoryMiB: 128,
		VCPUs:     1,
	}
	fmt.Println("creating a Xen PV guest whose init is runxen-hello ...")
	run, err := l.RunGuest(c.Context, g, "RUNXEN_HELLO_OK", 5*time.Minute)
	if err != nil {
		return err
	}
	fmt.Printf("\nprinted inside Xen PV guest %s (domain %d):\n", g.Name, run.DomID)
	for _, line := range strings.Split(run.Console, "\n") {
		if strings.Contains(line, "runxen-hello") || strings.Contains(line, "RUNXEN_HELLO") {
			fmt.Println("  " + strings.TrimSpace(line))
		}
	}
	fmt.Printf("\nxl create %s, guest boot to our init's output %s, power-off to domain gone %s (under %s emulation: compare ratios, not absolute times)\n",
		run.Create.Round(100*time.Millisecond), run.Boot.Round(100*time.Millisecond), run.Gone.Round(100*time.Millisecond), l.Timings.Accel)
	return nil
}

func indent(s string) string {
	return "  " + strings.ReplaceAll(strings.TrimSpace(s), "\n", "\n  ")
}

func shell(c *cli.Context) error {
	l, err := lab.Start(c.Context, lab.Options{})
	if err != nil {
		return err
	}
	defer l.Stop()
	rows, cols := 24, 80
	fd := int(os.Stdin.Fd())
	if term.IsTerminal(fd) {
		if w, h, err := term.GetSize(fd); err == nil {
			rows, cols = h, w
		}
		old, err := term.MakeRaw(fd)
		if err != nil {
			return err
		}
		defer func() { _ = term.Restore(fd, old) }()
	}
	conn, err := l.Shell(c.Context, rows, cols)
	if err != nil {
		return err
	}
	defer conn.Close()
	fmt.Print("dom0 shell; exit it to power the lab off\r\n")
	go func() { _, _ = io.Copy(conn, os.Stdin) }()
	_, err = io.Copy(os.Stdout, conn)
	return err
}

func clean(*cli.Context) error {
	o, err := lab.Options{}.Defaults()
	if err != nil {
		return err
	}
	fmt.Println("removing", o.CacheDir)
	return os.RemoveAll(o.CacheDir)
}
