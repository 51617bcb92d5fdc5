//go:build linux

package runc_test

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/containerd/errdefs"
	"github.com/containerd/errdefs/pkg/errgrpc"
	gorunc "github.com/containerd/go-runc"
	"github.com/containerd/ttrpc"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"google.golang.org/protobuf/types/known/emptypb"

	agent "github.com/runxen/runxen/guest-agent/api/v1"
	"github.com/runxen/runxen/guest-agent/cgroup"
	"github.com/runxen/runxen/guest-agent/reaper"
	"github.com/runxen/runxen/guest-agent/runc"
	"github.com/runxen/runxen/guest-agent/server"
	"github.com/runxen/runxen/guest-agent/service"
)

// TestIntegrationRunc runs the agent's service in this process, as the
// guest's PID 1 runs it (reaper, go-runc monitor, real runc), against a
// busybox root file system, over a unix socket with the ttrpc client. It
// needs root, runc and a static busybox:
//
//	apt-get install runc busybox-static && sudo go test ./guest-agent/runc -run Integration
func TestIntegrationRunc(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: run as root to drive real runc (sudo go test -run Integration ./guest-agent/runc)")
	}
	runcBin, err := exec.LookPath("runc")
	if err != nil {
		t.Skip("needs runc: apt-get install runc")
	}
	bb, err := exec.LookPath("busybox")
	if err != nil || !isStatic(bb) {
		t.Skip("needs a static busybox for the test's root file system: apt-get install busybox-static")
	}
	dir := t.TempDir()
	rootfs := makeRootfs(t, dir, bb)

	// The agent's process plumbing, as package boot sets it up.
	var svcp atomic.Pointer[service.Service]
	r := reaper.New(func(e reaper.Exit) {
		if s := svcp.Load(); s != nil {
			s.ProcessExited(e.Pid, e.Status, e.Time)
		}
	})
	if err := reaper.SetChildSubreaper(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go r.Run(ctx)
	prev := gorunc.Monitor
	gorunc.Monitor = r
	t.Cleanup(func() { gorunc.Monitor = prev })

	rt := runc.New(runc.Config{Binary: runcBin, Root: filepath.Join(dir, "runc-root"), SocketDir: filepath.Join(dir, "sock")})
	caps, err := rt.Capabilities(ctx)
	if err != nil {
		t.Fatal(err)
	}
	v, _ := rt.Version(ctx)
	t.Logf("runc %s; namespaces %v", v, caps.Namespaces)
	cgroupV2 := fileExists("/sys/fs/cgroup/cgroup.controllers")
	oomw, err := cgroup.NewOOMWatcher(func(id string) {
		if s := svcp.Load(); s != nil {
			s.OOM(id)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	go oomw.Run()
	t.Cleanup(func() { oomw.Close() })
	svc, err := service.New(service.Config{
		Runtime:      rt,
		Caps:         caps,
		OOM:          oomw,
		BundleDir:    filepath.Join(dir, "bundles"),
		AgentVersion: "integration",
	})
	if err != nil {
		t.Fatal(err)
	}
	svcp.Store(svc)
	srv, err := server.New(svc)
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "agent.sock")
	go server.Serve(ctx, srv, server.ListenUnix(sock))
	c := dial(t, sock)
	call := func() context.Context {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		t.Cleanup(cancel)
		return ctx
	}
	mkspec := func(terminal bool, args ...string) []byte {
		s := defaultSpec(rootfs, args, terminal)
		b, _ := json.Marshal(s)
		return b
	}
	readAll := func(id, eid string, stderr bool) string {
		read := c.ReadStdout
		if stderr {
			read = c.ReadStderr
		}
		var b strings.Builder
		for {
			r, err := read(call(), &agent.ReadStreamRequest{ContainerId: id, ExecId: eid})
			if err != nil {
				t.Fatalf("read %s/%s: %v", id, eid, err)
			}
			b.Write(r.Data)
			if r.Eof {
				return b.String()
			}
		}
	}
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(errgrpc.ToNative(err))
		}
	}
	remove := func(id string) {
		t.Helper()
		must(c.RemoveContainer(call(), &agent.RemoveContainerRequest{ContainerId: id}))
	}

	t.Run("run to completion", func(t *testing.T) {
		must(c.CreateContainer(call(), &agent.CreateContainerRequest{ContainerId: "echo", Spec: mkspec(false, "sh", "-c", "echo out; echo err >&2; exit 3")}))
		must(c.StartContainer(call(), &agent.StartContainerRequest{ContainerId: "echo"}))
		if out := readAll("echo", "", false); out != "out\n" {
			t.Errorf("stdout %q", out)
		}
		if out := readAll("echo", "", true); out != "err\n" {
			t.Errorf("stderr %q", out)
		}
		w, err := c.WaitProcess(call(), &agent.ProcessRequest{ContainerId: "echo"})
		if err != nil || w.ExitStatus != 3 {
			t.Fatalf("wait = %v, %v", w, err)
		}
		remove("echo")
	})

	t.Run("runc errors carry runc's message", func(t *testing.T) {
		_, err := c.CreateContainer(call(), &agent.CreateContainerRequest{ContainerId: "bad", Spec: mkspec(false, "/no/such/program")})
		if err == nil {
			must(c.StartContainer(call(), &agent.StartContainerRequest{ContainerId: "bad"}))
			t.Fatal("a missing program started")
		}
		if !strings.Contains(err.Error(), "no such file") && !strings.Contains(err.Error(), "not found") {
			t.Errorf("error does not say what runc said: %v", err)
		}
		t.Logf("create error: %v", err)
	})

	t.Run("exec signals stdin", func(t *testing.T) {
		must(c.CreateContainer(call(), &agent.CreateContainerRequest{ContainerId: "long", Spec: mkspec(false, "sleep", "1000")}))
		must(c.StartContainer(call(), &agent.StartContainerRequest{ContainerId: "long"}))
		proc, _ := json.Marshal(&specs.Process{Args: []string{"cat"}, Cwd: "/", Env: []string{"PATH=/bin"}})
		must(c.ExecProcess(call(), &agent.ExecProcessRequest{ContainerId: "long", ExecId: "cat", Process: proc, Stdin: true}))
		sp, err := c.StartProcess(call(), &agent.ProcessRequest{ContainerId: "long", ExecId: "cat"})
		if err != nil || sp.Pid == 0 {
			t.Fatalf("start exec: %v, %v", sp, err)
		}
		must(c.WriteStdin(call(), &agent.WriteStdinRequest{ContainerId: "long", ExecId: "cat", Data: []byte("through stdin\n")}))
		must(c.CloseStdin(call(), &agent.ProcessRequest{ContainerId: "long", ExecId: "cat"}))
		if out := readAll("long", "cat", false); out != "through stdin\n" {
			t.Errorf("cat: %q", out)
		}
		if w, _ := c.WaitProcess(call(), &agent.ProcessRequest{ContainerId: "long", ExecId: "cat"}); w.GetExitStatus() != 0 {
			t.Errorf("cat status %d", w.GetExitStatus())
		}

		lp, err := c.ListProcesses(call(), &agent.ContainerRequest{ContainerId: "long"})
		if cgroupV2 && (err != nil || len(lp.Processes) == 0 || !strings.Contains(lp.Processes[0].Command, "sleep")) {
			t.Errorf("ListProcesses = %v, %v", lp, err)
		}
		if cgroupV2 {
			st, err := c.Stats(call(), &agent.ContainerRequest{ContainerId: "long"})
			if err != nil || st.PidsCurrent == 0 || st.MemoryUsage == 0 {
				t.Errorf("Stats = %+v, %v", st, err)
			}
		} else {
			t.Log("cgroup v1 host: Stats and ListProcesses read cgroup v2 files; not checked here")
		}

		must(c.PauseContainer(call(), &agent.ContainerRequest{ContainerId: "long"}))
		must(c.ResumeContainer(call(), &agent.ContainerRequest{ContainerId: "long"}))

		must(c.SignalProcess(call(), &agent.SignalProcessRequest{ContainerId: "long", Signal: uint32(syscall.SIGKILL)}))
		w, err := c.WaitProcess(call(), &agent.ProcessRequest{ContainerId: "long"})
		if err != nil || w.ExitStatus != 137 {
			t.Fatalf("after SIGKILL: %v, %v", w, err)
		}
		_, err = c.SignalProcess(call(), &agent.SignalProcessRequest{ContainerId: "long", Signal: 9})
		if !errdefs.IsNotFound(errgrpc.ToNative(err)) {
			t.Errorf("signal after exit: %v", err)
		}
		remove("long")
	})

	t.Run("terminal", func(t *testing.T) {
		must(c.CreateContainer(call(), &agent.CreateContainerRequest{ContainerId: "tty", Terminal: true, Stdin: true, Spec: mkspec(true, "sh")}))
		must(c.StartContainer(call(), &agent.StartContainerRequest{ContainerId: "tty"}))
		must(c.ResizePty(call(), &agent.ResizePtyRequest{ContainerId: "tty", Width: 101, Height: 33}))
		must(c.WriteStdin(call(), &agent.WriteStdinRequest{ContainerId: "tty", Data: []byte("stty size; exit 5\n")}))
		out := readAll("tty", "", false)
		if !strings.Contains(out, "33 101") {
			t.Errorf("terminal output %q lacks the size", out)
		}
		if w, _ := c.WaitProcess(call(), &agent.ProcessRequest{ContainerId: "tty"}); w.GetExitStatus() != 5 {
			t.Errorf("status %d", w.GetExitStatus())
		}
		remove("tty")
	})

	t.Run("remove running", func(t *testing.T) {
		must(c.CreateContainer(call(), &agent.CreateContainerRequest{ContainerId: "rm", Spec: mkspec(false, "sleep", "1000")}))
		must(c.StartContainer(call(), &agent.StartContainerRequest{ContainerId: "rm"}))
		remove("rm")
		if fileExists(filepath.Join(dir, "bundles", "rm")) {
			t.Error("bundle left behind")
		}
	})

	t.Run("cgroup v2: update, oom", func(t *testing.T) {
		if !cgroupV2 {
			t.Skip("needs the cgroup v2 unified hierarchy at /sys/fs/cgroup")
		}
		must(c.CreateContainer(call(), &agent.CreateContainerRequest{ContainerId: "mem", Spec: mkspec(false, "sleep", "1000")}))
		must(c.StartContainer(call(), &agent.StartContainerRequest{ContainerId: "mem"}))
		limit, pids := int64(16<<20), int64(50)
		res, _ := json.Marshal(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &limit, Swap: &limit}, Pids: &specs.LinuxPids{Limit: &pids}})
		must(c.UpdateResources(call(), &agent.UpdateResourcesRequest{ContainerId: "mem", Resources: res}))
		st, err := c.Stats(call(), &agent.ContainerRequest{ContainerId: "mem"})
		if err != nil || st.MemoryLimit != uint64(limit) || st.PidsLimit != uint64(pids) {
			t.Fatalf("Stats after update = %+v, %v", st, err)
		}
		oom := make(chan string, 1)
		go func() {
			ev, err := c.GetOOMEvent(call(), &emptypb.Empty{})
			if err != nil {
				oom <- err.Error()
				return
			}
			oom <- ev.ContainerId
		}()
		// A shell string that doubles until the memory limit kills it.
		proc, _ := json.Marshal(&specs.Process{Args: []string{"sh", "-c", "x=xxxxxxxxxxxxxxxx; while :; do x=$x$x; done"}, Cwd: "/", Env: []string{"PATH=/bin"}})
		must(c.ExecProcess(call(), &agent.ExecProcessRequest{ContainerId: "mem", ExecId: "hog", Process: proc}))
		must(c.StartProcess(call(), &agent.ProcessRequest{ContainerId: "mem", ExecId: "hog"}))
		w, err := c.WaitProcess(call(), &agent.ProcessRequest{ContainerId: "mem", ExecId: "hog"})
		if err != nil || w.ExitStatus != 137 {
			t.Errorf("memory hog: %v, %v; want 137 (OOM-killed)", w, err)
		}
		select {
		case id := <-oom:
			if id != "mem" {
				t.Errorf("OOM event %q", id)
			}
		case <-time.After(time.Minute):
			t.Error("no OOM event")
		}
		st, err = c.Stats(call(), &agent.ContainerRequest{ContainerId: "mem"})
		if err != nil || st.OomKills == 0 || st.MemoryMaxUsage == 0 || st.CpuUsageUsec == 0 {
			t.Errorf("Stats after the OOM kill = %+v, %v", st, err)
		}
		t.Logf("stats: cpu %d µs, memory %d (peak %d, limit %d), pids %d/%d, oom kills %d",
			st.CpuUsageUsec, st.MemoryUsage, st.MemoryMaxUsage, st.MemoryLimit, st.PidsCurrent, st.PidsLimit, st.OomKills)
		must(c.PauseContainer(call(), &agent.ContainerRequest{ContainerId: "mem"}))
		frozen, _ := os.ReadFile("/sys/fs/cgroup/runxen/mem/cgroup.freeze")
		if strings.TrimSpace(string(frozen)) != "1" {
			t.Errorf("cgroup.freeze = %q while paused", frozen)
		}
		must(c.ResumeContainer(call(), &agent.ContainerRequest{ContainerId: "mem"}))
		remove("mem")
		if fileExists("/sys/fs/cgroup/runxen/mem") {
			t.Error("cgroup left behind")
		}
	})

	t.Run("version", func(t *testing.T) {
		v, err := c.Version(call(), &emptypb.Empty{})
		if err != nil || v.AgentVersion != "integration" {
			t.Fatalf("Version = %v, %v", v, err)
		}
	})
}

func dial(t *testing.T, sock string) agent.AgentService {
	t.Helper()
	for range 200 {
		if conn, err := net.Dial("unix", sock); err == nil {
			cl := ttrpc.NewClient(conn)
			t.Cleanup(func() { cl.Close() })
			return agent.NewAgentClient(cl)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("agent socket never appeared")
	return nil
}

func isStatic(path string) bool {
	out, err := exec.Command("ldd", path).CombinedOutput()
	return err != nil || strings.Contains(string(out), "not a dynamic")
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// makeRootfs builds a busybox root file system.
func makeRootfs(t *testing.T, dir, busybox string) string {
	t.Helper()
	root := filepath.Join(dir, "rootfs")
	for _, d := range []string{"bin", "proc", "dev", "sys", "tmp", "etc"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(busybox)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "bin", "busybox"), data, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, app := range []string{"sh", "echo", "cat", "sleep", "stty", "ls"} {
		if err := os.Symlink("busybox", filepath.Join(root, "bin", app)); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// defaultSpec is what `runc spec` gives, reduced: the usual namespaces and
// kernel file systems.
func defaultSpec(rootfs string, args []string, terminal bool) *specs.Spec {
	return &specs.Spec{
		Version:  specs.Version,
		Root:     &specs.Root{Path: rootfs},
		Hostname: "integration",
		Process: &specs.Process{
			Terminal: terminal,
			Args:     args,
			Cwd:      "/",
			Env:      []string{"PATH=/bin", "TERM=xterm"},
			Capabilities: &specs.LinuxCapabilities{
				Bounding:  []string{"CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_AUDIT_WRITE"},
				Effective: []string{"CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_AUDIT_WRITE"},
				Permitted: []string{"CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_AUDIT_WRITE"},
			},
			NoNewPrivileges: true,
		},
		Mounts: []specs.Mount{
			{Destination: "/proc", Type: "proc", Source: "proc"},
			{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
			{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"}},
			{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
		},
		Linux: &specs.Linux{
			Namespaces:    []specs.LinuxNamespace{{Type: "pid"}, {Type: "network"}, {Type: "ipc"}, {Type: "uts"}, {Type: "mount"}},
			MaskedPaths:   []string{"/proc/kcore", "/sys/firmware"},
			ReadonlyPaths: []string{"/proc/sys"},
		},
	}
}
