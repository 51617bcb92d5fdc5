package service

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/containerd/errdefs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/types/known/emptypb"

	agent "github.com/runxen/runxen/guest-agent/api/v1"
)

func TestVersion(t *testing.T) {
	h := newHarness(t)
	v, err := h.c.Version(h.ctx(), &emptypb.Empty{})
	if err != nil {
		t.Fatal(err)
	}
	var u unix.Utsname
	unix.Uname(&u)
	if v.AgentVersion != "test" || v.ApiVersion != agent.APIVersion || v.KernelRelease != unix.ByteSliceToString(u.Release[:]) {
		t.Errorf("Version = %+v", v)
	}
	if BuildVersion() == "" {
		t.Error("empty build version")
	}
}

func TestRunToCompletion(t *testing.T) {
	h := newHarness(t)
	pid := h.create("c1", spec("echo", "hello", "world"), createOpts{})
	if pid == 0 {
		t.Fatal("no pid")
	}
	// The bundle holds the spec, with the guest's cgroup path.
	data, err := os.ReadFile(filepath.Join(h.bundleDir, "c1", "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(data, []byte(`"cgroupsPath":"/runxen/c1"`)) {
		t.Errorf("config.json has no guest cgroup path: %s", data)
	}
	if fi, _ := os.Stat(filepath.Join(h.bundleDir, "c1", "config.json")); fi.Mode().Perm() != 0o600 {
		t.Errorf("config.json mode %v", fi.Mode())
	}
	h.start("c1")
	if out := h.readAll("c1", "", false, 0); out != "hello world\n" {
		t.Errorf("stdout %q", out)
	}
	if out := h.readAll("c1", "", true, 0); out != "" {
		t.Errorf("stderr %q", out)
	}
	w := h.wait("c1", "")
	if w.ExitStatus != 0 || w.ExitedAt.AsTime().IsZero() || time.Since(w.ExitedAt.AsTime()) > time.Minute {
		t.Errorf("wait = %+v", w)
	}
	// Waiting again gives the same answer.
	if w2 := h.wait("c1", ""); w2.ExitStatus != 0 || !w2.ExitedAt.AsTime().Equal(w.ExitedAt.AsTime()) {
		t.Errorf("second wait = %+v", w2)
	}
	if _, err := h.c.RemoveContainer(h.ctx(), &agent.RemoveContainerRequest{ContainerId: "c1"}); err != nil {
		t.Fatal(native(err))
	}
	if fileExists(filepath.Join(h.bundleDir, "c1")) {
		t.Error("bundle left behind")
	}
	_, err = h.c.WaitProcess(h.ctx(), &agent.ProcessRequest{ContainerId: "c1"})
	expectErr(t, err, errdefs.IsNotFound, `container "c1"`)
}

func TestExitStatuses(t *testing.T) {
	h := newHarness(t)
	h.run("code", "exit", "42")
	if w := h.wait("code", ""); w.ExitStatus != 42 {
		t.Errorf("exit 42: status %d", w.ExitStatus)
	}
	h.run("term", "sleep")
	if _, err := h.c.SignalProcess(h.ctx(), &agent.SignalProcessRequest{ContainerId: "term", Signal: uint32(syscall.SIGTERM)}); err != nil {
		t.Fatal(native(err))
	}
	if w := h.wait("term", ""); w.ExitStatus != 128+15 {
		t.Errorf("SIGTERM: status %d, want 143", w.ExitStatus)
	}
	// Signalling a finished process is NotFound, as containerd reports it.
	_, err := h.c.SignalProcess(h.ctx(), &agent.SignalProcessRequest{ContainerId: "term", Signal: 9})
	expectErr(t, err, errdefs.IsNotFound, "already finished")
	// Kill before start: the init dies of the signal.
	h.create("created", spec("sleep"), createOpts{})
	if _, err := h.c.SignalProcess(h.ctx(), &agent.SignalProcessRequest{ContainerId: "created", Signal: 9}); err != nil {
		t.Fatal(native(err))
	}
	if w := h.wait("created", ""); w.ExitStatus != 137 {
		t.Errorf("kill before start: status %d", w.ExitStatus)
	}
}

func TestSignalAll(t *testing.T) {
	h := newHarness(t)
	h.run("c", "ignore-term")
	h.exec("c", "e1", &specs.Process{Args: []string{"sleep"}, Cwd: "/"}, false, false)
	h.startExec("c", "e1")
	// SIGTERM to the init only: it ignores it; the exec is untouched.
	if _, err := h.c.SignalProcess(h.ctx(), &agent.SignalProcessRequest{ContainerId: "c", Signal: 15}); err != nil {
		t.Fatal(native(err))
	}
	// --all: the exec dies of it; the init still ignores it.
	if _, err := h.c.SignalProcess(h.ctx(), &agent.SignalProcessRequest{ContainerId: "c", Signal: 15, All: true}); err != nil {
		t.Fatal(native(err))
	}
	if w := h.wait("c", "e1"); w.ExitStatus != 143 {
		t.Errorf("exec status %d", w.ExitStatus)
	}
	if _, err := h.c.SignalProcess(h.ctx(), &agent.SignalProcessRequest{ContainerId: "c", Signal: 9}); err != nil {
		t.Fatal(native(err))
	}
	if w := h.wait("c", ""); w.ExitStatus != 137 {
		t.Errorf("init status %d", w.ExitStatus)
	}
}

func (h *harness) exec(id, execID string, p *specs.Process, terminal, stdin bool) {
	h.t.Helper()
	p.Terminal = terminal
	if _, err := h.c.ExecProcess(h.ctx(), &agent.ExecProcessRequest{
		ContainerId: id, ExecId: execID, Process: mustJSON(h.t, p), Terminal: terminal, Stdin: stdin,
	}); err != nil {
		h.t.Fatalf("ExecProcess: %v", native(err))
	}
}

func (h *harness) startExec(id, execID string) uint32 {
	h.t.Helper()
	resp, err := h.c.StartProcess(h.ctx(), &agent.ProcessRequest{ContainerId: id, ExecId: execID})
	if err != nil {
		h.t.Fatalf("StartProcess: %v", native(err))
	}
	return resp.Pid
}

func TestExec(t *testing.T) {
	h := newHarness(t)
	h.run("c", "sleep")
	proc := &specs.Process{Args: []string{"echo", "from", "exec"}, Cwd: "/"}
	h.exec("c", "e1", proc, false, false)

	_, err := h.c.ExecProcess(h.ctx(), &agent.ExecProcessRequest{ContainerId: "c", ExecId: "e1", Process: mustJSON(t, proc)})
	expectErr(t, err, errdefs.IsAlreadyExists, `exec "e1"`)
	_, err = h.c.SignalProcess(h.ctx(), &agent.SignalProcessRequest{ContainerId: "c", ExecId: "e1", Signal: 15})
	expectErr(t, err, errdefs.IsFailedPrecondition, "not started")

	if pid := h.startExec("c", "e1"); pid == 0 {
		t.Fatal("no pid")
	}
	if w := h.wait("c", "e1"); w.ExitStatus != 0 {
		t.Errorf("exec status %d", w.ExitStatus)
	}
	if out := h.readAll("c", "e1", false, 0); out != "from exec\n" {
		t.Errorf("exec stdout %q", out)
	}
	_, err = h.c.StartProcess(h.ctx(), &agent.ProcessRequest{ContainerId: "c", ExecId: "e1"})
	expectErr(t, err, errdefs.IsFailedPrecondition, "exited")

	// An exec that exits before runc exec returns (the PID race).
	h.exec("c", "early", &specs.Process{Args: []string{"exit-early", "3"}, Cwd: "/"}, false, false)
	h.startExec("c", "early")
	if w := h.wait("c", "early"); w.ExitStatus != 3 {
		t.Errorf("early exit status %d, want 3", w.ExitStatus)
	}

	// A failed start frees the ID and releases waiters.
	h.exec("c", "bad", &specs.Process{Args: []string{"echo"}, Cwd: "/"}, false, false)
	waited := make(chan *agent.WaitProcessResponse, 1)
	go func() {
		w, _ := h.c.WaitProcess(h.ctx(), &agent.ProcessRequest{ContainerId: "c", ExecId: "bad"})
		waited <- w
	}()
	time.Sleep(20 * time.Millisecond)
	h.rt.setFail("exec", errInjected)
	_, err = h.c.StartProcess(h.ctx(), &agent.ProcessRequest{ContainerId: "c", ExecId: "bad"})
	expectErr(t, err, errdefs.IsUnknown, "injected failure")
	h.rt.setFail("exec", nil)
	if w := <-waited; w == nil || w.ExitStatus != 255 {
		t.Errorf("waiter of a failed start got %+v", w)
	}
	h.exec("c", "bad", &specs.Process{Args: []string{"echo", "again"}, Cwd: "/"}, false, false)

	// Exec processes are listed with their exec IDs.
	h.exec("c", "long", &specs.Process{Args: []string{"sleep"}, Cwd: "/"}, false, false)
	lpid := h.startExec("c", "long")
	list, err := h.c.ListProcesses(h.ctx(), &agent.ContainerRequest{ContainerId: "c"})
	if err != nil {
		t.Fatal(native(err))
	}
	var found bool
	for _, p := range list.Processes {
		if p.Pid == lpid {
			found = p.ExecId == "long" && p.Command == "sleep"
		}
		if p.ExecId == "" && p.Command != "sleep" {
			t.Errorf("init listed as %+v", p)
		}
	}
	if !found || len(list.Processes) != 2 {
		t.Errorf("ListProcesses = %v", list.Processes)
	}

	// The init's exit ends the PID namespace: the exec dies too.
	h.c.SignalProcess(h.ctx(), &agent.SignalProcessRequest{ContainerId: "c", Signal: 9})
	if w := h.wait("c", "long"); w.ExitStatus != 137 {
		t.Errorf("exec after init exit: status %d", w.ExitStatus)
	}
	_, err = h.c.ExecProcess(h.ctx(), &agent.ExecProcessRequest{ContainerId: "c", ExecId: "late", Process: mustJSON(t, proc)})
	expectErr(t, err, errdefs.IsFailedPrecondition, "stopped")
}

func TestConcurrentExecs(t *testing.T) {
	h := newHarness(t)
	h.run("c", "sleep")
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			id := fmt.Sprintf("e%d", i)
			h.exec("c", id, &specs.Process{Args: []string{"exit", fmt.Sprint(i)}, Cwd: "/"}, false, false)
			h.startExec("c", id)
			if w := h.wait("c", id); w.ExitStatus != uint32(i) {
				t.Errorf("%s: status %d", id, w.ExitStatus)
			}
		}(i)
	}
	wg.Wait()
}

// TestBackPressure: a process writing far more than the buffer holds is
// throttled while nobody reads, and every byte arrives, in order.
func TestBackPressure(t *testing.T) {
	h := newHarness(t)
	const total = 5 << 20
	h.run("c", "emit", fmt.Sprint(total))
	var written int64 = -1
	for i := 0; i < 200; i++ {
		time.Sleep(10 * time.Millisecond)
		n := h.rt.containers["c"].init.written.Load()
		if n == written {
			break
		}
		written = n
	}
	if written >= total {
		t.Fatalf("the process wrote all %d bytes while nobody read", total)
	}
	if written < 1<<20 {
		t.Fatalf("the process wrote only %d bytes: the buffer should take 1 MiB", written)
	}
	// Not exited yet: it is blocked in write.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := h.c.WaitProcess(ctx, &agent.ProcessRequest{ContainerId: "c"}); err == nil {
		t.Fatal("the process exited although its output was never read")
	}
	out := h.readAll("c", "", false, 300000)
	if len(out) != total {
		t.Fatalf("read %d bytes, want %d", len(out), total)
	}
	for i := range total {
		if out[i] != pattern(i) {
			t.Fatalf("byte %d is %d, want %d", i, out[i], pattern(i))
		}
	}
	if w := h.wait("c", ""); w.ExitStatus != 0 {
		t.Errorf("status %d", w.ExitStatus)
	}
}

// TestEOFAfterDrain: the process exits with output still buffered; eof
// comes only with the last bytes.
func TestEOFAfterDrain(t *testing.T) {
	h := newHarness(t)
	h.run("c", "emit", "100000")
	h.wait("c", "")
	resp, err := h.c.ReadStdout(h.ctx(), &agent.ReadStreamRequest{ContainerId: "c", MaxLen: 1000})
	if err != nil || len(resp.Data) != 1000 || resp.Eof {
		t.Fatalf("first read: %d bytes, eof %v, %v", len(resp.GetData()), resp.GetEof(), err)
	}
	rest := h.readAll("c", "", false, 0)
	if len(rest) != 99000 {
		t.Fatalf("rest %d bytes", len(rest))
	}
	// eof again on later reads.
	resp, err = h.c.ReadStdout(h.ctx(), &agent.ReadStreamRequest{ContainerId: "c"})
	if err != nil || !resp.Eof || len(resp.Data) != 0 {
		t.Fatalf("read after eof: %+v, %v", resp, err)
	}
}

func TestStdin(t *testing.T) {
	h := newHarness(t)
	h.create("c", spec("cat"), createOpts{stdin: true})
	// Writing before start is fine: the pipe exists once created.
	if resp, err := h.c.WriteStdin(h.ctx(), &agent.WriteStdinRequest{ContainerId: "c", Data: []byte("abc")}); err != nil || resp.Len != 3 {
		t.Fatalf("WriteStdin = %v, %v", resp, native(err))
	}
	h.start("c")
	h.c.WriteStdin(h.ctx(), &agent.WriteStdinRequest{ContainerId: "c", Data: []byte("def")})
	if _, err := h.c.CloseStdin(h.ctx(), &agent.ProcessRequest{ContainerId: "c"}); err != nil {
		t.Fatal(native(err))
	}
	if _, err := h.c.CloseStdin(h.ctx(), &agent.ProcessRequest{ContainerId: "c"}); err != nil {
		t.Fatalf("second CloseStdin: %v", native(err))
	}
	if out := h.readAll("c", "", false, 0); out != "abcdef" {
		t.Errorf("stdout %q", out)
	}
	if w := h.wait("c", ""); w.ExitStatus != 0 {
		t.Errorf("status %d", w.ExitStatus)
	}
	_, err := h.c.WriteStdin(h.ctx(), &agent.WriteStdinRequest{ContainerId: "c", Data: []byte("x")})
	expectErr(t, err, errdefs.IsFailedPrecondition, "")

	// Without stdin the process reads /dev/null, and writes are refused.
	h.run("nostdin", "cat")
	if out := h.readAll("nostdin", "", false, 0); out != "" {
		t.Errorf("cat of /dev/null printed %q", out)
	}
	_, err = h.c.WriteStdin(h.ctx(), &agent.WriteStdinRequest{ContainerId: "nostdin", Data: []byte("x")})
	expectErr(t, err, errdefs.IsFailedPrecondition, "no stdin")

	// An exec's stdin, written before StartProcess: the write waits for
	// the start; CloseStdin before start is remembered.
	h.run("host", "sleep")
	h.exec("host", "e", &specs.Process{Args: []string{"cat"}, Cwd: "/"}, false, true)
	wrote := make(chan error, 1)
	go func() {
		_, err := h.c.WriteStdin(h.ctx(), &agent.WriteStdinRequest{ContainerId: "host", ExecId: "e", Data: []byte("early")})
		wrote <- err
	}()
	time.Sleep(20 * time.Millisecond)
	h.startExec("host", "e")
	if err := <-wrote; err != nil {
		t.Fatal(native(err))
	}
	h.c.CloseStdin(h.ctx(), &agent.ProcessRequest{ContainerId: "host", ExecId: "e"})
	if out := h.readAll("host", "e", false, 0); out != "early" {
		t.Errorf("exec stdout %q", out)
	}
	h.exec("host", "e2", &specs.Process{Args: []string{"cat"}, Cwd: "/"}, false, true)
	h.c.CloseStdin(h.ctx(), &agent.ProcessRequest{ContainerId: "host", ExecId: "e2"})
	h.startExec("host", "e2")
	if w := h.wait("host", "e2"); w.ExitStatus != 0 {
		t.Errorf("exec with stdin closed before start: status %d", w.ExitStatus)
	}
}

func TestStderr(t *testing.T) {
	h := newHarness(t)
	h.run("c", "stderr", "oops")
	if out := h.readAll("c", "", true, 0); out != "oops\n" {
		t.Errorf("stderr %q", out)
	}
	if out := h.readAll("c", "", false, 0); out != "" {
		t.Errorf("stdout %q", out)
	}
}

func TestTerminal(t *testing.T) {
	if _, err := os.Stat("/dev/ptmx"); err != nil {
		t.Skip("no /dev/ptmx: pseudo-terminals are not available here")
	}
	h := newHarness(t)
	h.create("c", spec("cat"), createOpts{terminal: true, stdin: true})
	h.start("c")
	if _, err := h.c.ResizePty(h.ctx(), &agent.ResizePtyRequest{ContainerId: "c", Width: 120, Height: 40}); err != nil {
		t.Fatal(native(err))
	}
	slave := h.rt.containers["c"].init.stdout.(*os.File)
	ws, err := unix.IoctlGetWinsize(int(slave.Fd()), unix.TIOCGWINSZ)
	if err != nil || ws.Col != 120 || ws.Row != 40 {
		t.Errorf("window size %+v, %v", ws, err)
	}
	if _, err := h.c.WriteStdin(h.ctx(), &agent.WriteStdinRequest{ContainerId: "c", Data: []byte("hi\n")}); err != nil {
		t.Fatal(native(err))
	}
	// CloseStdin sends the terminal's EOF character: cat sees end of file.
	if _, err := h.c.CloseStdin(h.ctx(), &agent.ProcessRequest{ContainerId: "c"}); err != nil {
		t.Fatal(native(err))
	}
	out := h.readAll("c", "", false, 0)
	// The terminal echoes the input and cat prints it again, with CRLF.
	if strings.Count(out, "hi\r\n") != 2 {
		t.Errorf("terminal output %q", out)
	}
	if w := h.wait("c", ""); w.ExitStatus != 0 {
		t.Errorf("status %d", w.ExitStatus)
	}
	if out := h.readAll("c", "", true, 0); out != "" {
		t.Errorf("a terminal has no separate stderr, got %q", out)
	}
	_, err = h.c.ResizePty(h.ctx(), &agent.ResizePtyRequest{ContainerId: "c", Width: 0, Height: 40})
	expectErr(t, err, errdefs.IsInvalidArgument, "terminal size")

	// Resizing a process without a terminal is a no-op, as in containerd.
	h.run("plain", "sleep")
	if _, err := h.c.ResizePty(h.ctx(), &agent.ResizePtyRequest{ContainerId: "plain", Width: 80, Height: 24}); err != nil {
		t.Errorf("resize without terminal: %v", native(err))
	}
}

func TestPauseResume(t *testing.T) {
	h := newHarness(t)
	h.create("c", spec("sleep"), createOpts{})
	_, err := h.c.PauseContainer(h.ctx(), &agent.ContainerRequest{ContainerId: "c"})
	expectErr(t, err, errdefs.IsFailedPrecondition, "it is created")
	h.start("c")
	_, err = h.c.ResumeContainer(h.ctx(), &agent.ContainerRequest{ContainerId: "c"})
	expectErr(t, err, errdefs.IsFailedPrecondition, "it is running")
	if _, err := h.c.PauseContainer(h.ctx(), &agent.ContainerRequest{ContainerId: "c"}); err != nil {
		t.Fatal(native(err))
	}
	_, err = h.c.PauseContainer(h.ctx(), &agent.ContainerRequest{ContainerId: "c"})
	expectErr(t, err, errdefs.IsFailedPrecondition, "it is paused")
	h.exec("c", "e", &specs.Process{Args: []string{"echo"}, Cwd: "/"}, false, false)
	_, err = h.c.StartProcess(h.ctx(), &agent.ProcessRequest{ContainerId: "c", ExecId: "e"})
	expectErr(t, err, errdefs.IsFailedPrecondition, "paused")
	if _, err := h.c.ResumeContainer(h.ctx(), &agent.ContainerRequest{ContainerId: "c"}); err != nil {
		t.Fatal(native(err))
	}
	h.startExec("c", "e")
}

func TestUpdateResources(t *testing.T) {
	h := newHarness(t)
	h.run("c", "sleep")
	limit := int64(32 << 20)
	res := mustJSON(t, &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &limit}})
	if _, err := h.c.UpdateResources(h.ctx(), &agent.UpdateResourcesRequest{ContainerId: "c", Resources: res}); err != nil {
		t.Fatal(native(err))
	}
	if len(h.rt.updates) != 1 || *h.rt.updates[0].Memory.Limit != limit {
		t.Errorf("runtime got %+v", h.rt.updates)
	}
	sw := uint64(10)
	bad := mustJSON(t, &specs.LinuxResources{Memory: &specs.LinuxMemory{Swappiness: &sw}})
	_, err := h.c.UpdateResources(h.ctx(), &agent.UpdateResourcesRequest{ContainerId: "c", Resources: bad})
	expectErr(t, err, errdefs.IsInvalidArgument, "resources.memory.swappiness")
	_, err = h.c.UpdateResources(h.ctx(), &agent.UpdateResourcesRequest{ContainerId: "c", Resources: []byte("{")})
	expectErr(t, err, errdefs.IsInvalidArgument, "LinuxResources")
}

func TestStats(t *testing.T) {
	h := newHarness(t)
	h.run("c", "sleep")
	cg := filepath.Join(h.cgroupRoot, "runxen", "c")
	for name, content := range map[string]string{
		"cpu.stat":       "usage_usec 900\nuser_usec 600\nsystem_usec 300\n",
		"memory.current": "1048576\n",
		"memory.max":     "67108864\n",
		"memory.peak":    "2097152\n",
		"memory.stat":    "anon 4096\nfile 8192\n",
		"memory.events":  "oom 0\noom_kill 0\n",
		"pids.current":   "2\n",
		"pids.max":       "max\n",
		"io.stat":        "202:0 rbytes=1 wbytes=2 rios=3 wios=4\n",
	} {
		if err := os.WriteFile(filepath.Join(cg, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	st, err := h.c.Stats(h.ctx(), &agent.ContainerRequest{ContainerId: "c"})
	if err != nil {
		t.Fatal(native(err))
	}
	if st.CpuUsageUsec != 900 || st.CpuUserUsec != 600 || st.CpuSystemUsec != 300 || st.MemoryUsage != 1<<20 ||
		st.MemoryLimit != 64<<20 || st.MemoryMaxUsage != 2<<20 || st.PidsCurrent != 2 || st.PidsLimit != ^uint64(0) ||
		st.IoReadBytes != 1 || st.IoWriteBytes != 2 || st.IoReadOps != 3 || st.IoWriteOps != 4 || st.MemoryStat["file"] != 8192 {
		t.Errorf("Stats = %+v", st)
	}
	os.WriteFile(filepath.Join(cg, "memory.max"), []byte("garbage\n"), 0o644)
	_, err = h.c.Stats(h.ctx(), &agent.ContainerRequest{ContainerId: "c"})
	expectErr(t, err, func(err error) bool { return err != nil }, "memory.max")
}

func TestOOMEvent(t *testing.T) {
	h := newHarness(t)
	h.run("c", "sleep")
	got := make(chan string, 1)
	go func() {
		ev, err := h.c.GetOOMEvent(h.ctx(), &emptypb.Empty{})
		if err != nil {
			got <- "error: " + native(err).Error()
			return
		}
		got <- ev.ContainerId
	}()
	time.Sleep(20 * time.Millisecond)
	if err := os.WriteFile(filepath.Join(h.cgroupRoot, "runxen", "c", "memory.events"), []byte("oom 1\noom_kill 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	select {
	case id := <-got:
		if id != "c" {
			t.Fatalf("OOM event %q", id)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no OOM event")
	}
}

func TestRemoveRunning(t *testing.T) {
	h := newHarness(t)
	h.run("c", "sleep")
	h.exec("c", "e", &specs.Process{Args: []string{"sleep"}, Cwd: "/"}, false, false)
	waits := make(chan *agent.WaitProcessResponse, 2)
	for _, e := range []string{"", "e"} {
		go func() {
			w, _ := h.c.WaitProcess(h.ctx(), &agent.ProcessRequest{ContainerId: "c", ExecId: e})
			waits <- w
		}()
	}
	reading := make(chan *agent.ReadStreamResponse, 1)
	go func() {
		r, _ := h.c.ReadStdout(h.ctx(), &agent.ReadStreamRequest{ContainerId: "c"})
		reading <- r
	}()
	time.Sleep(20 * time.Millisecond)
	if _, err := h.c.RemoveContainer(h.ctx(), &agent.RemoveContainerRequest{ContainerId: "c"}); err != nil {
		t.Fatal(native(err))
	}
	for range 2 {
		if w := <-waits; w == nil || w.ExitStatus != 137 {
			t.Errorf("waiter got %+v, want 137", w)
		}
	}
	if r := <-reading; r == nil || !r.Eof {
		t.Errorf("reader got %+v, want eof", r)
	}
	for _, call := range []func() error{
		func() error {
			_, err := h.c.StartContainer(h.ctx(), &agent.StartContainerRequest{ContainerId: "c"})
			return err
		},
		func() error { _, err := h.c.Stats(h.ctx(), &agent.ContainerRequest{ContainerId: "c"}); return err },
		func() error {
			_, err := h.c.RemoveContainer(h.ctx(), &agent.RemoveContainerRequest{ContainerId: "c"})
			return err
		},
	} {
		expectErr(t, call(), errdefs.IsNotFound, `"c"`)
	}
	if fileExists(filepath.Join(h.cgroupRoot, "runxen", "c")) {
		t.Error("cgroup left behind")
	}
	// The ID can be used again.
	h.run("c", "echo", "again")
	if out := h.readAll("c", "", false, 0); out != "again\n" {
		t.Errorf("reused ID: %q", out)
	}
}

func TestRemoveFailure(t *testing.T) {
	h := newHarness(t)
	h.run("c", "sleep")
	h.rt.setFail("delete", errInjected)
	_, err := h.c.RemoveContainer(h.ctx(), &agent.RemoveContainerRequest{ContainerId: "c"})
	expectErr(t, err, errdefs.IsUnknown, "injected")
	h.rt.setFail("delete", nil)
	// Still there, and removable.
	if _, err := h.c.Stats(h.ctx(), &agent.ContainerRequest{ContainerId: "c"}); err != nil {
		t.Fatal(native(err))
	}
	if _, err := h.c.RemoveContainer(h.ctx(), &agent.RemoveContainerRequest{ContainerId: "c"}); err != nil {
		t.Fatal(native(err))
	}
}

func TestCreateFailureCleansUp(t *testing.T) {
	h := newHarness(t)
	h.rt.setFail("create", errInjected)
	_, err := h.c.CreateContainer(h.ctx(), &agent.CreateContainerRequest{ContainerId: "c", Spec: mustJSON(t, spec("echo"))})
	expectErr(t, err, errdefs.IsUnknown, "injected")
	if fileExists(filepath.Join(h.bundleDir, "c")) {
		t.Error("bundle left behind")
	}
	h.rt.setFail("create", nil)
	h.run("c", "echo")
}

func TestValidation(t *testing.T) {
	h := newHarness(t)
	h.run("c", "sleep")
	long := strings.Repeat("a", MaxIDLength+1)
	good := mustJSON(t, spec("echo"))
	hooked := spec("echo")
	//lint:ignore SA1019 dockerd still sends prestart hooks
	hooked.Hooks = &specs.Hooks{Prestart: []specs.Hook{{Path: "/bin/true"}}}
	hooked.Linux.Namespaces = append(hooked.Linux.Namespaces, specs.LinuxNamespace{Type: "network", Path: "/proc/1/ns/net"})
	tty := spec("echo")
	tty.Process.Terminal = true
	ctx := h.ctx()
	tests := []struct {
		name string
		call func() error
		is   func(error) bool
		want string
	}{
		{"empty id", func() error {
			_, err := h.c.CreateContainer(ctx, &agent.CreateContainerRequest{Spec: good})
			return err
		}, errdefs.IsInvalidArgument, "container_id is empty"},
		{"path in id", func() error {
			_, err := h.c.CreateContainer(ctx, &agent.CreateContainerRequest{ContainerId: "../etc", Spec: good})
			return err
		}, errdefs.IsInvalidArgument, "only letters"},
		{"dot id", func() error {
			_, err := h.c.StartContainer(ctx, &agent.StartContainerRequest{ContainerId: "."})
			return err
		}, errdefs.IsInvalidArgument, "only letters"},
		{"long id", func() error {
			_, err := h.c.Stats(ctx, &agent.ContainerRequest{ContainerId: long})
			return err
		}, errdefs.IsInvalidArgument, "longer than 76"},
		{"bad exec id", func() error {
			_, err := h.c.WaitProcess(ctx, &agent.ProcessRequest{ContainerId: "c", ExecId: "a/b"})
			return err
		}, errdefs.IsInvalidArgument, "exec_id"},
		{"exec without id", func() error {
			_, err := h.c.ExecProcess(ctx, &agent.ExecProcessRequest{ContainerId: "c", Process: mustJSON(t, &specs.Process{Args: []string{"x"}, Cwd: "/"})})
			return err
		}, errdefs.IsInvalidArgument, "exec_id is empty"},
		{"empty spec", func() error {
			_, err := h.c.CreateContainer(ctx, &agent.CreateContainerRequest{ContainerId: "x"})
			return err
		}, errdefs.IsInvalidArgument, "spec is empty"},
		{"spec not json", func() error {
			_, err := h.c.CreateContainer(ctx, &agent.CreateContainerRequest{ContainerId: "x", Spec: []byte("nope")})
			return err
		}, errdefs.IsInvalidArgument, "not OCI runtime spec JSON"},
		{"spec too large", func() error {
			_, err := h.c.CreateContainer(ctx, &agent.CreateContainerRequest{ContainerId: "x", Spec: make([]byte, MaxSpecSize+1)})
			return err
		}, errdefs.IsInvalidArgument, "more than the"},
		{"hooks and netns path named", func() error {
			_, err := h.c.CreateContainer(ctx, &agent.CreateContainerRequest{ContainerId: "x", Spec: mustJSON(t, hooked)})
			return err
		}, errdefs.IsInvalidArgument, "linux.namespaces[2].path"},
		{"terminal mismatch", func() error {
			_, err := h.c.CreateContainer(ctx, &agent.CreateContainerRequest{ContainerId: "x", Spec: mustJSON(t, tty)})
			return err
		}, errdefs.IsInvalidArgument, "process.terminal"},
		{"duplicate container", func() error {
			_, err := h.c.CreateContainer(ctx, &agent.CreateContainerRequest{ContainerId: "c", Spec: good})
			return err
		}, errdefs.IsAlreadyExists, `"c"`},
		{"unknown container", func() error {
			_, err := h.c.ReadStdout(ctx, &agent.ReadStreamRequest{ContainerId: "nope"})
			return err
		}, errdefs.IsNotFound, `"nope"`},
		{"unknown exec", func() error {
			_, err := h.c.ReadStderr(ctx, &agent.ReadStreamRequest{ContainerId: "c", ExecId: "nope"})
			return err
		}, errdefs.IsNotFound, `exec "nope"`},
		{"start twice", func() error {
			_, err := h.c.StartContainer(ctx, &agent.StartContainerRequest{ContainerId: "c"})
			return err
		}, errdefs.IsFailedPrecondition, "it is running"},
		{"signal 0", func() error {
			_, err := h.c.SignalProcess(ctx, &agent.SignalProcessRequest{ContainerId: "c"})
			return err
		}, errdefs.IsInvalidArgument, "signal 0"},
		{"signal 65", func() error {
			_, err := h.c.SignalProcess(ctx, &agent.SignalProcessRequest{ContainerId: "c", Signal: 65})
			return err
		}, errdefs.IsInvalidArgument, "signal 65"},
		{"stdin too large", func() error {
			_, err := h.c.WriteStdin(ctx, &agent.WriteStdinRequest{ContainerId: "c", Data: make([]byte, MaxStdinWrite+1)})
			return err
		}, errdefs.IsInvalidArgument, "data is"},
		{"bad process json", func() error {
			_, err := h.c.ExecProcess(ctx, &agent.ExecProcessRequest{ContainerId: "c", ExecId: "e", Process: []byte("[")})
			return err
		}, errdefs.IsInvalidArgument, "OCI Process"},
		{"process apparmor", func() error {
			_, err := h.c.ExecProcess(ctx, &agent.ExecProcessRequest{ContainerId: "c", ExecId: "e", Process: mustJSON(t, &specs.Process{Args: []string{"x"}, Cwd: "/", ApparmorProfile: "docker-default"})})
			return err
		}, errdefs.IsInvalidArgument, "process.apparmorProfile"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { expectErr(t, tt.call(), tt.is, tt.want) })
	}
}

func TestPowerOffOnExit(t *testing.T) {
	t.Run("collected", func(t *testing.T) {
		h := newHarness(t, func(c *Config) { c.PowerOffGrace = time.Minute })
		h.create("c", spec("echo", "bye"), createOpts{poweroff: true})
		h.start("c")
		h.wait("c", "")
		select {
		case r := <-h.powered:
			t.Fatalf("powered off before the output was read: %s", r)
		case <-time.After(100 * time.Millisecond):
		}
		h.readAll("c", "", false, 0)
		h.readAll("c", "", true, 0)
		select {
		case r := <-h.powered:
			if !strings.Contains(r, "collected") {
				t.Errorf("reason %q", r)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("no power-off after everything was collected")
		}
	})
	t.Run("grace", func(t *testing.T) {
		h := newHarness(t)
		h.create("c", spec("echo", "unread"), createOpts{poweroff: true})
		h.start("c")
		select {
		case r := <-h.powered:
			if !strings.Contains(r, "nobody collected") {
				t.Errorf("reason %q", r)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("no power-off after the grace period")
		}
	})
	t.Run("removed while running", func(t *testing.T) {
		h := newHarness(t, func(c *Config) { c.PowerOffGrace = time.Minute })
		h.create("c", spec("sleep"), createOpts{poweroff: true})
		h.start("c")
		if _, err := h.c.RemoveContainer(h.ctx(), &agent.RemoveContainerRequest{ContainerId: "c"}); err != nil {
			t.Fatal(native(err))
		}
		select {
		case r := <-h.powered:
			if !strings.Contains(r, "removed") {
				t.Errorf("reason %q", r)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("no power-off after the container was removed")
		}
	})
	t.Run("not asked", func(t *testing.T) {
		h := newHarness(t)
		h.run("c", "exit", "0")
		h.wait("c", "")
		select {
		case r := <-h.powered:
			t.Fatalf("powered off without poweroff_on_exit: %s", r)
		case <-time.After(500 * time.Millisecond):
		}
	})
}

func TestShutdown(t *testing.T) {
	h := newHarness(t)
	h.run("a", "sleep")
	h.run("b", "ignore-term")
	if _, err := h.c.Shutdown(h.ctx(), &emptypb.Empty{}); err != nil {
		t.Fatal(native(err))
	}
	for _, id := range []string{"a", "b"} {
		if w := h.wait(id, ""); w.ExitStatus != 137 {
			t.Errorf("%s: status %d", id, w.ExitStatus)
		}
	}
	select {
	case <-h.powered:
	case <-time.After(10 * time.Second):
		t.Fatal("no power-off after Shutdown")
	}
	_, err := h.c.CreateContainer(h.ctx(), &agent.CreateContainerRequest{ContainerId: "late", Spec: mustJSON(t, spec("echo"))})
	expectErr(t, err, errdefs.IsFailedPrecondition, "shutting down")
}

// TestHostDisconnectMidCall: a long-poll whose connection dies takes no
// data; the host reconnects and gets everything.
func TestHostDisconnectMidCall(t *testing.T) {
	h := newHarness(t)
	h.run("c", "sleep")
	// A second client with a long-poll in flight, then its connection dies.
	conn, err := dialRaw(h.sock)
	if err != nil {
		t.Fatal(err)
	}
	c2 := agentClientOn(conn)
	polled := make(chan error, 1)
	go func() {
		_, err := c2.ReadStdout(context.Background(), &agent.ReadStreamRequest{ContainerId: "c"})
		polled <- err
	}()
	time.Sleep(50 * time.Millisecond)
	conn.Close()
	if err := <-polled; err == nil {
		t.Fatal("the long-poll on a closed connection returned data")
	}
	time.Sleep(50 * time.Millisecond) // let the server notice
	h.c.SignalProcess(h.ctx(), &agent.SignalProcessRequest{ContainerId: "c", Signal: uint32(syscall.SIGUSR1)})
	fresh := h.dial()
	resp, err := fresh.ReadStdout(h.ctx(), &agent.ReadStreamRequest{ContainerId: "c"})
	if err != nil || string(resp.Data) != "usr1\n" {
		t.Fatalf("after reconnect: %+v, %v", resp, native(err))
	}
}

func TestLookupErrorsAreTyped(t *testing.T) {
	// Through the real server, class survives the wire; check one of each.
	h := newHarness(t)
	_, err := h.c.PauseContainer(h.ctx(), &agent.ContainerRequest{ContainerId: "missing"})
	if !errors.Is(native(err), errdefs.ErrNotFound) {
		t.Fatalf("err = %v", native(err))
	}
}

func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd")
	}
	return len(ents)
}

// TestFinishedExecsReleaseEverything: many short execs, each collected,
// leave neither descriptors nor unbounded state behind (the API has no
// call to delete an exec).
func TestFinishedExecsReleaseEverything(t *testing.T) {
	h := newHarness(t)
	h.run("c", "sleep")
	run := func(i int) {
		id := fmt.Sprintf("probe%d", i)
		h.exec("c", id, &specs.Process{Args: []string{"echo", id}, Cwd: "/"}, false, true)
		h.startExec("c", id)
		if out := h.readAll("c", id, false, 0); out != id+"\n" {
			t.Fatalf("%s printed %q", id, out)
		}
		h.readAll("c", id, true, 0)
		h.wait("c", id)
	}
	run(0)
	time.Sleep(50 * time.Millisecond)
	before := openFDs(t)
	n := maxFinishedExecs + 40
	for i := 1; i <= n; i++ {
		run(i)
	}
	time.Sleep(100 * time.Millisecond) // output goroutines close their ends
	if after := openFDs(t); after > before+5 {
		t.Errorf("%d execs left %d descriptors open", n, after-before)
	}
	h.svc.mu.Lock()
	kept := len(h.svc.containers["c"].execs)
	h.svc.mu.Unlock()
	if kept > maxFinishedExecs+1 {
		t.Errorf("%d finished execs kept, want at most %d", kept, maxFinishedExecs)
	}
	// The most recent ones are still there to be asked again.
	if w := h.wait("c", fmt.Sprintf("probe%d", n)); w.ExitStatus != 0 {
		t.Errorf("latest exec: %+v", w)
	}
	_, err := h.c.WaitProcess(h.ctx(), &agent.ProcessRequest{ContainerId: "c", ExecId: "probe1"})
	expectErr(t, err, errdefs.IsNotFound, "probe1")
}
