package lab

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// failedBoot matches console lines that mean this boot is lost: multi-threaded TCG sometimes
// panics dom0 in early code patching (docs/lab.md), and the software-nested KVM on our machines
// cannot run Xen at all.
var failedBoot = regexp.MustCompile(`Kernel panic|Fatal exception|\(XEN\) Panic|\(XEN\) \*\*\*\* Panic|KVM internal error|RUNXEN_LAB_FAIL|emulation failure`)

// machine is one running QEMU.
type machine struct {
	cmd     *exec.Cmd
	port    int
	console string // path of the console log
	exited  chan struct{}
	exitErr error
	mu      sync.Mutex
	failure string // first failed-boot line seen on the console
}

type accel struct {
	name string   // "kvm" or "tcg"
	args []string // QEMU arguments selecting it
}

var (
	accelKVM       = accel{"kvm", []string{"-accel", "kvm", "-cpu", "host"}}
	accelTCG       = accel{"tcg", []string{"-accel", "tcg,thread=multi", "-cpu", "Westmere"}}
	accelTCGSingle = accel{"tcg-single", []string{"-accel", "tcg,thread=single", "-cpu", "Westmere"}}
)

// startMachine boots Xen with dom0 from img, with a fresh copy-on-write overlay so that the
// cached image is never written.
func startMachine(o Options, img *dom0Image, payload, runDir string, a accel, attempt int) (*machine, error) {
	overlay := filepath.Join(runDir, fmt.Sprintf("dom0-%d.qcow2", attempt))
	if out, err := exec.Command("qemu-img", "create", "-q", "-f", "qcow2", "-b", img.Disk, "-F", "raw", overlay).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("qemu-img create overlay: %w: %s", err, out)
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	xenCmdline := fmt.Sprintf("console=com1 com1=115200,8n1 dom0_mem=%dM,max:%dM dom0_max_vcpus=2 loglvl=all guest_loglvl=all noreboot", o.Dom0MiB, o.Dom0MiB)
	// Multiboot modules are comma-separated, each followed by its own command line.
	modules := img.Kernel + " console=hvc0 root=/dev/vda rw init=/lab/init quiet," + img.Initrd
	args := append([]string{}, a.args...)
	args = append(args,
		"-smp", "2", "-m", strconv.Itoa(o.MemoryMiB),
		"-display", "none", "-monitor", "none", "-serial", "stdio", "-no-reboot",
		"-kernel", img.Xen, "-append", xenCmdline, "-initrd", modules,
		"-drive", "file="+overlay+",if=virtio,format=qcow2",
		"-drive", "file="+payload+",if=virtio,format=raw,readonly=on",
		// restrict=on: dom0 reaches nothing outside QEMU; only the forwarded port comes in.
		"-netdev", fmt.Sprintf("user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:%d-:7000", port),
		// romfile= spares the iPXE option ROM, which a host without qemu's recommends lacks.
		"-device", "virtio-net-pci,netdev=n0,romfile=",
	)
	m := &machine{port: port, console: filepath.Join(runDir, fmt.Sprintf("console-%d.log", attempt)), exited: make(chan struct{})}
	logf, err := os.Create(m.console)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(logf, "# qemu-system-x86_64 %s\n", strings.Join(args, " "))
	m.cmd = exec.Command("qemu-system-x86_64", args...)
	stdout, err := m.cmd.StdoutPipe()
	if err != nil {
		logf.Close()
		return nil, err
	}
	m.cmd.Stderr = m.cmd.Stdout
	m.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := m.cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start qemu: %w", err)
	}
	go m.watchConsole(stdout, logf)
	return m, nil
}

func (m *machine) watchConsole(r io.Reader, logf *os.File) {
	defer logf.Close()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		fmt.Fprintln(logf, line)
		if failedBoot.MatchString(line) {
			m.mu.Lock()
			if m.failure == "" {
				m.failure = line
			}
			m.mu.Unlock()
		}
	}
	_, _ = io.Copy(logf, r)
	m.exitErr = m.cmd.Wait()
	close(m.exited)
}

// bootFailure says why this boot will not come up, or "" while it still may.
func (m *machine) bootFailure() string {
	select {
	case <-m.exited:
		return fmt.Sprintf("qemu exited: %v", m.exitErr)
	default:
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.failure
}

func (m *machine) stop() {
	select {
	case <-m.exited:
		return
	default:
	}
	_ = m.cmd.Process.Kill()
	select {
	case <-m.exited:
	case <-time.After(10 * time.Second):
	}
}

// waitReady waits until labd answers, the boot visibly failed, or the timeout passed.
func (m *machine) waitReady(ctx context.Context, c *Client, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		if f := m.bootFailure(); f != "" {
			return errors.New(f)
		}
		hctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := c.Health(hctx)
		cancel()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("dom0 not ready after %s (last: %v)", timeout, err)
		}
		time.Sleep(2 * time.Second)
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
