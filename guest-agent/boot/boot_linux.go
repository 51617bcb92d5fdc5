//go:build linux

package boot

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	gorunc "github.com/containerd/go-runc"
	"github.com/containerd/log"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/runxen/runxen/guest-agent/cgroup"
	"github.com/runxen/runxen/guest-agent/reaper"
	"github.com/runxen/runxen/guest-agent/runc"
	"github.com/runxen/runxen/guest-agent/server"
	"github.com/runxen/runxen/guest-agent/service"
	"github.com/runxen/runxen/guest-agent/shares"
	"github.com/runxen/runxen/guest-agent/sysinit"
)

// Paths in the guest.
const (
	// ModulesList is the list of kernel modules the initramfs builder
	// writes, loaded in order at boot.
	ModulesList = "/etc/runxen/modules.load"
	// newRoot is where the tmpfs root is mounted while the initramfs moves.
	newRoot = "/newroot"
	// stageEnv tells the re-executed agent that the root has been moved.
	stageEnv = "RUNXEN_AGENT_ROOT_MOVED"
	// LogParam is the kernel command line parameter setting the log level
	// (runxen.log=debug).
	LogParam = "runxen.log"
)

// Options configure Run. Zero values are right for a guest.
type Options struct {
	// Listen is "vchan" (default) or "unix:///path".
	Listen string
	// LogLevel overrides the kernel command line's runxen.log.
	LogLevel string
	// Runc configures the runc runtime.
	Runc runc.Config
	// BundleDir overrides service.DefaultBundleDir.
	BundleDir string
}

// Run runs the agent. As PID 1 it never returns: it powers the guest off
// when done (or on a fatal error). Otherwise it returns nil once stopped
// (ctx ended, a signal, or the service asked to power off), or the error
// that kept it from serving.
func Run(ctx context.Context, opts Options) error {
	pid1 := os.Getpid() == 1
	if pid1 {
		err := initGuest()
		if err != nil {
			log.L.WithError(err).Error("guest initialisation failed; powering off")
			powerOff()
		}
	} else {
		log.L.Logger.SetOutput(os.Stderr)
		if err := reaper.SetChildSubreaper(); err != nil {
			return err
		}
	}
	if opts.LogLevel != "" {
		if err := log.SetLevel(opts.LogLevel); err != nil {
			return fmt.Errorf("log level: %w", err)
		}
	}
	err := serve(ctx, opts, pid1)
	if pid1 {
		log.L.WithError(err).Info("agent stopped; powering off")
		powerOff()
	}
	return err
}

// initGuest does what PID 1 must before serving. On the first run from the
// initramfs it ends by re-executing the agent from the moved root, so it
// runs twice per boot; everything in it is idempotent.
func initGuest() error {
	if os.Getenv("PATH") == "" {
		os.Setenv("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
	}
	mountErr := sysinit.MountBase()
	if con, err := sysinit.AttachConsole(); err == nil {
		log.L.Logger.SetOutput(con)
	}
	// The console ends up in a file in dom0: no colours, full timestamps.
	log.L.Logger.SetFormatter(&logrus.TextFormatter{FullTimestamp: true, TimestampFormat: log.RFC3339NanoFixed, DisableColors: true})
	level := "info"
	if b, err := os.ReadFile("/proc/cmdline"); err == nil {
		if v, ok := sysinit.CmdlineValue(sysinit.ParseCmdline(string(b)), LogParam); ok {
			level = v
		}
	}
	if err := log.SetLevel(level); err != nil {
		log.L.WithError(err).Warnf("bad %s=%q; logging at info", LogParam, level)
	}
	if mountErr != nil {
		return fmt.Errorf("mount kernel file systems: %w", mountErr)
	}
	// PID 1 dies of no signal it has no handler for, but the Go runtime
	// has handlers for all of them and exits on SIGTERM, SIGINT, SIGHUP and
	// SIGQUIT unless told otherwise, which would panic the kernel.
	// handleSignals takes the ones that mean something back with Notify.
	signal.Ignore(unix.SIGHUP, unix.SIGUSR2, unix.SIGTTIN, unix.SIGTTOU,
		unix.SIGTERM, unix.SIGINT, unix.SIGPWR, unix.SIGQUIT, unix.SIGUSR1)

	movedFrom := os.Getenv(stageEnv) // free memory before the move
	os.Unsetenv(stageEnv)            // not for runc and the containers
	moved := movedFrom != ""
	if !moved {
		log.L.Infof("runxen agent %s starting as PID 1 (uptime %s)", service.BuildVersion(), uptime())
		if err := loadModules(); err != nil {
			return err
		}
		if err := moveRoot(); err != nil {
			return err
		}
	} else {
		log.L.Infof("running from the tmpfs root (uptime %s); free memory %s MiB before the move, %d MiB now",
			uptime(), movedFrom, memFree()>>20)
	}
	for _, d := range []struct {
		path string
		mode os.FileMode
	}{{"/tmp", 0o1777}, {"/run/runxen", 0o700}} {
		if err := os.MkdirAll(d.path, d.mode); err != nil {
			return fmt.Errorf("create %s: %w", d.path, err)
		}
		_ = os.Chmod(d.path, d.mode)
	}
	return nil
}

func loadModules() error {
	start := time.Now()
	n, err := sysinit.LoadModules(ModulesList)
	if errors.Is(err, fs.ErrNotExist) && n == 0 {
		log.L.Warnf("no %s: loading no kernel modules", ModulesList)
		return nil
	}
	if err != nil {
		return err
	}
	log.L.Infof("loaded %d kernel modules in %s", n, time.Since(start).Round(time.Millisecond))
	return nil
}

// moveRoot moves the initramfs into a tmpfs (see the package doc) and
// re-executes the agent from there; it returns only on failure or when the
// root needs no move.
func moveRoot() error {
	is, err := sysinit.RootIsInitramfs()
	if err != nil {
		return err
	}
	if !is {
		log.L.Info("the root is not the initramfs; not moving it")
		return nil
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find own binary: %w", err)
	}
	before := memFree()
	// The modules are loaded: their files need no copy. Both spellings,
	// for initramfs trees with and without a merged /usr.
	drop := func(rel string) bool { return rel == "lib/modules" || rel == "usr/lib/modules" }
	st, err := sysinit.MoveRootToTmpfs(newRoot, drop)
	if err != nil {
		return err
	}
	log.L.Infof("moved the initramfs into a tmpfs root: %d files, %d MiB in %s",
		st.Files, st.Bytes>>20, st.Took.Round(time.Millisecond))
	env := append(os.Environ(), fmt.Sprintf("%s=%d", stageEnv, before>>20))
	err = unix.Exec(exe, os.Args, env)
	// Still usable: only the old binary's pages stay allocated.
	log.L.WithError(err).Warnf("cannot re-execute %s from the new root; carrying on", exe)
	return nil
}

// serve runs the reaper, the runtime, the service and the server.
func serve(ctx context.Context, opts Options, pid1 bool) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	var svcp atomic.Pointer[service.Service]
	r := reaper.New(func(e reaper.Exit) {
		if s := svcp.Load(); s != nil {
			s.ProcessExited(e.Pid, e.Status, e.Time)
		}
	})
	go r.Run(ctx)
	gorunc.Monitor = r // every runc command goes through the reaper

	rt := runc.New(opts.Runc)
	caps, err := rt.Capabilities(ctx)
	if err != nil {
		log.L.WithError(err).Warn("cannot ask runc what it supports; assuming runc 1.1")
	}
	var svc *service.Service
	oom, err := cgroup.NewOOMWatcher(func(id string) {
		if s := svcp.Load(); s != nil {
			s.OOM(id)
		}
	})
	if err != nil {
		return err
	}
	go oom.Run()
	defer oom.Close()

	svc, err = service.New(service.Config{
		Runtime:   rt,
		Caps:      caps,
		BundleDir: opts.BundleDir,
		OOM:       oom,
		Shares:    shares.NewMounter(),
		PowerOff: func(reason string) {
			cancel(fmt.Errorf("power off: %s", reason))
		},
	})
	if err != nil {
		return err
	}
	svcp.Store(svc)

	go handleSignals(ctx, cancel, pid1)

	listen, err := server.ParseAddress(listenOr(opts.Listen))
	if err != nil {
		return err
	}
	srv, err := server.New(svc)
	if err != nil {
		return err
	}
	log.L.Infof("agent service ready (uptime %s)", uptime())
	_ = server.Serve(ctx, srv, listen)
	log.L.Infof("agent stopping: %v", context.Cause(ctx))
	return nil
}

func listenOr(addr string) string {
	if addr == "" {
		return "vchan"
	}
	return addr
}

// handleSignals turns SIGTERM, SIGINT (ctrl-alt-del, `xl reboot`) and
// SIGPWR (`poweroff` in the guest) into a shutdown, and SIGQUIT and SIGUSR1
// into a goroutine dump on the console.
func handleSignals(ctx context.Context, cancel context.CancelCauseFunc, pid1 bool) {
	ch := make(chan os.Signal, 4)
	signal.Notify(ch, unix.SIGTERM, unix.SIGINT, unix.SIGPWR, unix.SIGQUIT, unix.SIGUSR1)
	defer signal.Stop(ch)
	if pid1 {
		// Let ctrl-alt-del (and Xen's reboot request) reach us as SIGINT
		// instead of rebooting at once.
		_ = unix.Reboot(unix.LINUX_REBOOT_CMD_CAD_OFF)
	}
	for {
		select {
		case <-ctx.Done():
			return
		case sig := <-ch:
			switch sig {
			case unix.SIGQUIT, unix.SIGUSR1:
				buf := make([]byte, 1<<20)
				log.L.Infof("goroutine dump on %v:\n%s", sig, buf[:runtime.Stack(buf, true)])
			default:
				log.L.Infof("%v: shutting down", sig)
				cancel(fmt.Errorf("signal %v", sig))
				return
			}
		}
	}
}

// powerOff ends the guest: every process is killed so that file systems
// are quiet, then they are synced and the domain powered off.
func powerOff() {
	_ = unix.Kill(-1, unix.SIGKILL)
	time.Sleep(100 * time.Millisecond)
	err := sysinit.PowerOff()
	log.L.WithError(err).Error("power off failed; halting")
	for {
		_ = unix.Reboot(unix.LINUX_REBOOT_CMD_HALT)
		time.Sleep(time.Second)
	}
}

func uptime() string {
	b, err := os.ReadFile("/proc/uptime")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return "?"
	}
	return f[0] + "s"
}

func memFree() uint64 {
	var si unix.Sysinfo_t
	if unix.Sysinfo(&si) != nil {
		return 0
	}
	return uint64(si.Freeram) * uint64(si.Unit)
}

// Forward asks PID 1 to shut down: for /sbin/poweroff and /sbin/reboot as
// links to the agent, which the kernel runs when Xen asks the guest to
// power off (orderly_poweroff) and which users may type.
func Forward(name string) error {
	sig := unix.SIGPWR
	if name == "reboot" {
		sig = unix.SIGINT
	}
	if err := unix.Kill(1, sig); err != nil {
		return fmt.Errorf("signal PID 1: %w", err)
	}
	return nil
}
