package lab

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Lab is a running Xen lab: QEMU running Xen and a dom0 that answers commands.
type Lab struct {
	*Client
	opts    Options
	p       *progress
	m       *machine
	runDir  string
	Timings Timings
}

// Timings are the phases of bringing a lab up, for the notes and benchmarks.
type Timings struct {
	// Dom0Image includes building the tools it holds.
	Dom0Image, Payload, Boot, Services time.Duration
	Accel                              string
	Attempts                           int
}

func (t Timings) String() string {
	return fmt.Sprintf("dom0 image %s, payload %s, boot %s (%s, %d attempt(s)), services %s",
		t.Dom0Image.Round(100*time.Millisecond), t.Payload.Round(100*time.Millisecond),
		t.Boot.Round(100*time.Millisecond), t.Accel, t.Attempts, t.Services.Round(100*time.Millisecond))
}

// Start builds what is missing from the cache, boots the lab and waits until dom0's Xen
// daemons, containerd 1.7, dockerd and containerd 2.x all answer.
func Start(ctx context.Context, o Options) (*Lab, error) {
	o, err := o.Defaults()
	if err != nil {
		return nil, err
	}
	for _, tool := range []string{"qemu-system-x86_64", "qemu-img", "debootstrap", "mkfs.ext4", "gunzip"} {
		if _, err := exec.LookPath(tool); err != nil {
			return nil, fmt.Errorf("the lab needs %s on the host (see README.md, Requirements): %w", tool, err)
		}
	}
	p := newProgress(o.Progress)
	l := &Lab{opts: o, p: p}

	tools, err := newHostTools(o)
	if err != nil {
		return nil, err
	}
	t0 := time.Now()
	img, err := buildDom0Image(ctx, o, p, tools)
	if err != nil {
		return nil, err
	}
	l.Timings.Dom0Image = time.Since(t0)

	if err := os.MkdirAll(filepath.Join(o.CacheDir, "runs"), 0o755); err != nil {
		return nil, err
	}
	if l.runDir, err = os.MkdirTemp(filepath.Join(o.CacheDir, "runs"), time.Now().Format("20060102-150405-")); err != nil {
		return nil, err
	}
	var payload string
	if l.Timings.Payload, err = p.step("pack payload (labd, bin/, guest images)", func(func(string)) error {
		payload, err = buildPayload(ctx, o, l.runDir)
		return err
	}); err != nil {
		l.cleanupRunDir()
		return nil, err
	}

	t0 = time.Now()
	if err := l.boot(ctx, p, img, payload); err != nil {
		l.cleanupRunDir()
		return nil, err
	}
	l.Timings.Boot = time.Since(t0)
	if l.Timings.Services, err = p.step("wait for xenstored, containerd, dockerd, containerd 2.x", func(status func(string)) error {
		return l.waitServices(ctx, status, 5*time.Minute)
	}); err != nil {
		l.Stop()
		return nil, err
	}
	p.printf("lab ready: %s", l.Timings)
	return l, nil
}

// boot tries the accelerators in order and retries failed boots: under emulation a boot
// sometimes dies for reasons that have nothing to do with the code under test.
func (l *Lab) boot(ctx context.Context, p *progress, img *dom0Image, payload string) error {
	accels := l.accels()
	var errs []string
	for attempt := 1; attempt <= len(accels); attempt++ {
		a := accels[attempt-1]
		var m *machine
		_, err := p.step(fmt.Sprintf("boot Xen + dom0 under QEMU/%s (attempt %d of %d)", a.name, attempt, len(accels)), func(status func(string)) error {
			var err error
			if m, err = startMachine(l.opts, img, payload, l.runDir, a, attempt); err != nil {
				return err
			}
			status("console: " + m.console)
			c := newClient(m.port)
			if err := m.waitReady(ctx, c, l.opts.BootTimeout); err != nil {
				m.stop()
				return err
			}
			l.m, l.Client = m, c
			return nil
		})
		if err == nil {
			l.Timings.Accel, l.Timings.Attempts = a.name, attempt
			if a.name == "kvm" {
				l.rememberKVM(true)
			}
			return nil
		}
		if a.name == "kvm" {
			l.rememberKVM(false)
		}
		errs = append(errs, fmt.Sprintf("attempt %d (%s): %v (console: %s)", attempt, a.name, err, m.consoleOrNone()))
		if ctx.Err() != nil {
			break
		}
	}
	return fmt.Errorf("lab did not boot:\n  %s", strings.Join(errs, "\n  "))
}

func (m *machine) consoleOrNone() string {
	if m == nil {
		return "none"
	}
	return m.console
}

// accels lists the accelerator of each boot attempt. TCG gets BootAttempts tries, the last one
// single-threaded; KVM goes first, as an extra try, only where it has not already failed to run
// Xen on this host: the nested KVM on our machines cannot (docs/lab.md).
func (l *Lab) accels() []accel {
	if l.opts.Accel == "kvm" {
		return []accel{accelKVM}
	}
	var tcg []accel
	for i := 1; i <= l.opts.BootAttempts; i++ {
		if i == l.opts.BootAttempts && i > 1 {
			tcg = append(tcg, accelTCGSingle)
		} else {
			tcg = append(tcg, accelTCG)
		}
	}
	if l.opts.Accel == "tcg" {
		return tcg
	}
	if _, err := os.Stat("/dev/kvm"); err != nil {
		return tcg
	}
	if ok, known := l.knownKVM(); known && !ok {
		return tcg
	}
	return append([]accel{accelKVM}, tcg...)
}

func (l *Lab) kvmProbeFile() string {
	host, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	cpu, _ := os.ReadFile("/proc/cpuinfo")
	return filepath.Join(l.opts.CacheDir, "kvm-runs-xen-"+cacheKey(string(host), string(cpu)))
}

func (l *Lab) knownKVM() (ok, known bool) {
	b, err := os.ReadFile(l.kvmProbeFile())
	if err != nil {
		return false, false
	}
	return strings.TrimSpace(string(b)) == "yes", true
}

func (l *Lab) rememberKVM(ok bool) {
	v := "no\n"
	if ok {
		v = "yes\n"
	}
	_ = os.WriteFile(l.kvmProbeFile(), []byte(v), 0o644)
}

// waitServices waits until every dom0 service answers on its socket.
func (l *Lab) waitServices(ctx context.Context, status func(string), timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		h, err := l.Health(ctx)
		if err == nil {
			var down []string
			for name, up := range h.Services {
				if !up {
					down = append(down, name)
				}
			}
			if len(down) == 0 {
				return nil
			}
			sort.Strings(down)
			status("waiting for " + strings.Join(down, ", "))
			if time.Now().After(deadline) {
				return fmt.Errorf("dom0 services not up after %s: %s (see /var/log in dom0)", timeout, strings.Join(down, ", "))
			}
		} else if time.Now().After(deadline) {
			return fmt.Errorf("labd stopped answering: %w", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(2 * time.Second):
		}
	}
}

// ConsolePath is the host file holding the QEMU serial console (Xen and dom0 messages).
func (l *Lab) ConsolePath() string { return l.m.console }

// Stop powers the lab off. The run directory (overlay disk, console) is removed unless
// RUNXEN_KEEP_RUN is set.
func (l *Lab) Stop() {
	if l.m != nil {
		l.m.stop()
	}
	l.cleanupRunDir()
}

func (l *Lab) cleanupRunDir() {
	if l.runDir == "" || os.Getenv("RUNXEN_KEEP_RUN") != "" {
		return
	}
	_ = os.RemoveAll(l.runDir)
}
