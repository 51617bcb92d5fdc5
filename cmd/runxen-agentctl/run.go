package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v2"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/runxen/runxen/runtime/agentclient"
	"github.com/runxen/runxen/runtime/vchan"
	"github.com/runxen/runxen/runtime/xen"
	"github.com/runxen/runxen/runtime/xenstore"
)

// containerID is the ID of the one container run makes in its guest.
const containerID = "run"

// Bounds on tearing down, which runs after the caller's context may have
// ended.
const (
	shutdownTimeout = 30 * time.Second
	destroyTimeout  = 2 * time.Minute
)

func runCommand(code *int) *cli.Command {
	return &cli.Command{
		Name:                   "run",
		Usage:                  "create a guest, run a command in it as a container, destroy the guest",
		UseShortOptionHandling: true,
		ArgsUsage:              "-- COMMAND [ARG...]",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "kernel", Usage: "guest kernel (dom0 path)", Required: true},
			&cli.StringFlag{Name: "initramfs", Usage: "agent initramfs (dom0 path)", Required: true},
			&cli.IntFlag{Name: "memory", Value: 256, Usage: "guest memory in MiB"},
			&cli.IntFlag{Name: "vcpus", Value: 1, Usage: "guest vCPUs"},
			&cli.StringFlag{Name: "name", Usage: "domain name (default runxen-agentctl-<random>)"},
			&cli.StringFlag{Name: "cmdline", Value: "console=hvc0 quiet", Usage: "guest kernel command line"},
			&cli.StringFlag{Name: "rootfs", Value: "/rootfs/busybox", Usage: "container root file system (guest path)"},
			&cli.StringSliceFlag{Name: "env", Aliases: []string{"e"}, Usage: "KEY=VALUE to add to the environment"},
			&cli.BoolFlag{Name: "tty", Aliases: []string{"t"}, Usage: "give the command a terminal"},
			&cli.BoolFlag{Name: "interactive", Aliases: []string{"i"}, Usage: "connect stdin"},
			&cli.BoolFlag{Name: "timings", Usage: "print how long each phase took to stderr"},
			&cli.DurationFlag{Name: "boot-timeout", Value: 5 * time.Minute, Usage: "how long the guest may take to boot until its agent answers"},
			&cli.DurationFlag{Name: "call-timeout", Value: 2 * time.Minute, Usage: "bound on each agent call that does not wait for the process"},
			&cli.StringFlag{Name: "xl", Value: "xl", Usage: "xl binary"},
		},
		Action: func(c *cli.Context) error {
			opts, err := runOptionsFrom(c)
			if err != nil {
				return err
			}
			status, err := opts.run(c.Context)
			*code = status
			return err
		},
	}
}

type runOptions struct {
	domain      xen.DomainConfig
	rootfs      string
	args, env   []string
	tty, stdin  bool
	timings     bool
	bootTimeout time.Duration
	callTimeout time.Duration
	xl          string
	stdinR      io.Reader
	stdout      io.Writer
	stderr      io.Writer
}

func runOptionsFrom(c *cli.Context) (*runOptions, error) {
	args := c.Args().Slice()
	if len(args) == 0 {
		return nil, errors.New("run: no command given (run [flags] -- COMMAND [ARG...])")
	}
	name := c.String("name")
	if name == "" {
		b := make([]byte, 4)
		_, _ = rand.Read(b)
		name = "runxen-agentctl-" + hex.EncodeToString(b)
	}
	o := &runOptions{
		domain: xen.DomainConfig{
			Name:      name,
			Kernel:    c.String("kernel"),
			Initramfs: c.String("initramfs"),
			Cmdline:   c.String("cmdline"),
			MemoryMiB: c.Int("memory"),
			VCPUs:     c.Int("vcpus"),
		},
		rootfs:      c.String("rootfs"),
		args:        args,
		env:         c.StringSlice("env"),
		tty:         c.Bool("tty"),
		stdin:       c.Bool("interactive"),
		timings:     c.Bool("timings"),
		bootTimeout: c.Duration("boot-timeout"),
		callTimeout: c.Duration("call-timeout"),
		xl:          c.String("xl"),
		stdinR:      os.Stdin,
		stdout:      os.Stdout,
		stderr:      os.Stderr,
	}
	if err := o.domain.Validate(); err != nil {
		return nil, err
	}
	for _, kv := range o.env {
		if !strings.Contains(kv, "=") {
			return nil, fmt.Errorf("--env %q is not KEY=VALUE", kv)
		}
	}
	return o, nil
}

// host is what run needs of dom0.
type host struct {
	ts      xen.Toolstack
	store   vchan.Store
	devices vchan.Devices
}

// run does the whole thing on this dom0 and returns the container's exit
// status.
func (o *runOptions) run(ctx context.Context) (int, error) {
	xs, err := xenstore.Dial(ctx)
	if err != nil {
		return exitRuntimeError, err
	}
	defer xs.Close()
	return o.runOn(ctx, host{
		ts:      xen.NewXL(xen.XLOptions{Path: o.xl, Store: xs}),
		store:   xs,
		devices: vchan.XenDevices(),
	})
}

// runOn does the whole thing on h.
func (o *runOptions) runOn(ctx context.Context, h host) (status int, err error) {
	ts := h.ts
	start := time.Now()
	var times []timing
	mark := func(name string, since time.Time) time.Time {
		now := time.Now()
		times = append(times, timing{name, now.Sub(since)})
		return now
	}

	t := time.Now()
	id, err := ts.Create(ctx, o.domain)
	if err != nil {
		return exitRuntimeError, err
	}
	t = mark("toolstack create (xl create -p)", t)

	var client *agentclient.Client
	clean := false
	defer func() {
		t := time.Now()
		if terr := o.teardown(ts, id, client, clean); terr != nil && err == nil {
			err, status = terr, exitRuntimeError
		}
		mark("teardown", t)
		mark("total", start)
		if o.timings {
			fmt.Fprintf(o.stderr, "runxen-agentctl timings (domain %d, %s):\n", id, o.domain.Name)
			for _, tm := range times {
				if tm.d < 0 {
					fmt.Fprintf(o.stderr, "  %-34s %s\n", tm.name, "none")
					continue
				}
				fmt.Fprintf(o.stderr, "  %-34s %8.3fs\n", tm.name, tm.d.Seconds())
			}
		}
	}()

	if err := ts.Unpause(ctx, id); err != nil {
		return exitRuntimeError, err
	}
	t = mark("unpause", t)
	bootCtx, cancel := context.WithTimeout(ctx, o.bootTimeout)
	client, err = agentclient.Connect(bootCtx, agentclient.Config{
		Domain:      id,
		Store:       h.store,
		Devices:     h.devices,
		Waiter:      ts,
		CallTimeout: o.callTimeout,
	})
	cancel()
	if err != nil {
		return exitRuntimeError, err
	}
	booted := mark("boot to agent answering", t)

	spec := agentclient.DefaultSpec(o.rootfs, o.args, o.tty)
	spec.Process.Env = append(spec.Process.Env, o.env...)
	s := &session{
		svc:         client.Agent(),
		containerID: containerID,
		spec:        spec,
		stdout:      o.stdout,
		stderr:      o.stderr,
	}
	if o.stdin {
		s.stdin = o.stdinR
	}
	if o.tty {
		restore, size, resizes, err := setupTerminal(o.stdinR, o.stdin)
		if err != nil {
			return exitRuntimeError, err
		}
		defer restore()
		s.size, s.resizes = size, resizes
	}
	code, err := s.run(ctx)
	times = append(times, s.timings(booted)...)
	if err != nil {
		return exitRuntimeError, err
	}
	clean = true
	return int(code), nil
}

// teardown ends the guest: after a clean run it asks the agent to power
// the guest off and waits for that (bounded), then, always, destroys the
// domain, which a guest that powered off still needs (xl create -e leaves
// it shut down).
func (o *runOptions) teardown(ts xen.Toolstack, id xen.DomID, client *agentclient.Client, clean bool) error {
	if client != nil {
		if clean {
			ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
			if _, err := client.Agent().Shutdown(ctx, &emptypb.Empty{}); err == nil {
				_, _ = ts.Wait(ctx, id)
			}
			cancel()
		}
		client.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), destroyTimeout)
	defer cancel()
	if err := ts.Destroy(ctx, id); err != nil && !errors.Is(err, xen.ErrNoDomain) {
		return fmt.Errorf("tear down: %w", err)
	}
	return nil
}
