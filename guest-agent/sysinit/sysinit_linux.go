//go:build linux

package sysinit

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

const (
	nosuid = unix.MS_NOSUID
	nodev  = unix.MS_NODEV
	noexec = unix.MS_NOEXEC
)

// baseMounts are mounted in order: later targets live inside earlier ones.
// /sys/hypervisor needs no mount of its own: with XEN_SYS_HYPERVISOR the Xen
// attributes are part of sysfs.
var baseMounts = []mountSpec{
	{"proc", "/proc", "proc", nosuid | nodev | noexec, ""},
	{"sysfs", "/sys", "sysfs", nosuid | nodev | noexec, ""},
	{"devtmpfs", "/dev", "devtmpfs", nosuid, "mode=0755"},
	// A private devpts instance, with a /dev/pts/ptmx anyone may open, so
	// ptys work no matter how /dev/ptmx was created.
	{"devpts", "/dev/pts", "devpts", nosuid | noexec, "newinstance,ptmxmode=0666,mode=0620"},
	{"shm", "/dev/shm", "tmpfs", nosuid | nodev, "mode=1777"},
	{"tmpfs", "/run", "tmpfs", nosuid | nodev, "mode=0755"},
	{"cgroup2", "/sys/fs/cgroup", "cgroup2", nosuid | nodev | noexec, ""},
}

// MountBase mounts /proc, /sys, /dev (devtmpfs), /dev/pts, /dev/shm, /run
// and the cgroup2 hierarchy, creating mount points as needed. Targets that
// are already mounted are left alone.
func MountBase() error {
	return mountAll(linuxMounter{}, baseMounts)
}

type linuxMounter struct{}

func (linuxMounter) mkdirAll(p string) error { return os.MkdirAll(p, 0o755) }

func (linuxMounter) mounted() (map[string]bool, error) { return readMounted() }

func (linuxMounter) mount(m mountSpec) error {
	err := unix.Mount(m.source, m.target, m.fstype, m.flags, m.data)
	if errors.Is(err, unix.EBUSY) {
		return errBusy
	}
	return err
}

// LoadModules loads, in order, the module files listed in listPath (one
// absolute path per line, as the initramfs builder writes them) and returns
// how many are now loaded. A module that is already loaded counts as
// loaded. The modules must be uncompressed.
func LoadModules(listPath string) (int, error) {
	data, err := os.ReadFile(listPath)
	if err != nil {
		return 0, fmt.Errorf("read module list: %w", err)
	}
	n := 0
	for _, p := range parseModuleList(string(data)) {
		if err := loadModule(p); err != nil {
			return n, fmt.Errorf("load module %s: %w", p, err)
		}
		n++
	}
	return n, nil
}

func loadModule(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	// finit_module lets the kernel read the file itself, which is what
	// module signature checks are defined against.
	err = unix.FinitModule(int(f.Fd()), "", 0)
	if errors.Is(err, unix.EEXIST) {
		return nil
	}
	return err
}

// PowerOff flushes file systems and powers the machine off; for a Xen guest
// that ends the domain. It returns only on failure.
func PowerOff() error {
	unix.Sync()
	if err := unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF); err != nil {
		return fmt.Errorf("power off: %w", err)
	}
	return errors.New("power off: reboot(2) returned")
}

// ReapChildren collects every child that has exited, without blocking, and
// reports them. PID 1 inherits every orphan in the guest, so it calls this
// on each SIGCHLD. A caller that also waits for children of its own (for
// example through os/exec) must reap through one place only: a child
// reaped here can no longer be waited for elsewhere.
func ReapChildren() ([]Exited, error) {
	var out []Exited
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		switch {
		case errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.ECHILD), err == nil && pid <= 0:
			return out, nil
		case err != nil:
			return out, fmt.Errorf("reap children: %w", err)
		}
		out = append(out, Exited{PID: pid, Status: exitStatus(ws)})
	}
}

func exitStatus(ws unix.WaitStatus) int {
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}
