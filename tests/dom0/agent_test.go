//go:build dom0

package dom0

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/emptypb"

	agent "github.com/runxen/runxen/guest-agent/api/v1"
	"github.com/runxen/runxen/runtime/agentclient"
	"github.com/runxen/runxen/runtime/xen"
)

// testCmdlineParam goes on the main guest's kernel command line: its quotes
// and backslash must reach the guest verbatim through the xl config.
const testCmdlineParam = `runxen.dom0test="quoted \ value"`

// TestAgentGuest boots one guest with the agent and proves, in order, what
// the agent does over the real vchan; the last steps destroy the domain
// mid-call and check that nothing is left behind. One boot serves every
// step because boots are slow in the lab.
func TestAgentGuest(t *testing.T) {
	h := newHost(t)
	fdsBefore := xenFDs(t)
	g := h.createGuest(t, "agent", "agent-test.initramfs", "console=hvc0 "+testCmdlineParam, 512)
	ctx := ctxFor(t, bootTimeout)

	info, err := h.ts.Info(ctx, g.id)
	if err != nil || info.State != xen.StatePaused || info.Name != g.name || info.VCPUs != 1 || info.MemoryMiB < 500 {
		t.Fatalf("created domain: %+v, %v; want paused, 1 vCPU, 512 MiB", info, err)
	}
	start := time.Now()
	if err := h.ts.Unpause(ctx, g.id); err != nil {
		t.Fatal(err)
	}
	c, err := h.connect(ctx, g, callTimeout, nil)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer func() { c.Close() }()
	v := c.Version()
	t.Logf("timings: xl create -p %s, unpause to agent answering %s; agent %q, API %d, guest kernel %s",
		g.created.Round(time.Millisecond), time.Since(start).Round(time.Millisecond), v.AgentVersion, v.ApiVersion, v.KernelRelease)
	if v.ApiVersion != agent.APIVersion || v.KernelRelease == "" {
		t.Fatalf("Version = %+v", v)
	}
	svc := c.Agent()

	t.Run("toolstack", func(t *testing.T) {
		ctx := ctxFor(t, stepTimeout)
		info, err := h.ts.Info(ctx, g.id)
		if err != nil || info.State != xen.StateRunning || info.CPUTime <= 0 {
			t.Fatalf("running domain: %+v, %v", info, err)
		}
		doms, err := h.ts.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, d := range doms {
			found = found || (d.ID == g.id && d.Name == g.name)
		}
		if !found || doms[0].ID != 0 {
			t.Fatalf("List = %+v", doms)
		}
		if err := h.ts.Pause(ctx, g.id); err != nil {
			t.Fatal(err)
		}
		if info, _ := h.ts.Info(ctx, g.id); info.State != xen.StatePaused {
			t.Fatalf("after Pause: %+v", info)
		}
		if err := h.ts.Unpause(ctx, g.id); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Version(ctx, &emptypb.Empty{}); err != nil {
			t.Fatalf("agent after domain pause/unpause: %v", err)
		}
	})

	t.Run("cmdline", func(t *testing.T) {
		p := startProc(t, svc, "cmdline", "", []string{"cat", "/proc/cmdline"}, false, false)
		if st := p.wait(t); st != 0 {
			t.Fatalf("cat /proc/cmdline: status %d, stderr %q", st, p.stderr)
		}
		if !strings.Contains(p.stdout.String(), testCmdlineParam) {
			t.Fatalf("guest command line %q lacks %s", p.stdout, testCmdlineParam)
		}
		removeContainer(t, svc, "cmdline")
	})

	t.Run("exit-status-and-stdio", func(t *testing.T) {
		p := startProc(t, svc, "c1", "", []string{"sh", "-c", "echo hi; echo err >&2; exit 3"}, false, false)
		st := p.wait(t)
		if st != 3 || p.stdout.String() != "hi\n" || p.stderr.String() != "err\n" {
			t.Fatalf("status %d, stdout %q, stderr %q; want 3, \"hi\\n\", \"err\\n\"", st, p.stdout, p.stderr)
		}
		removeContainer(t, svc, "c1")
	})

	// c2 lives on for the exec steps.
	var c2ok bool
	t.Run("long-running-container", func(t *testing.T) {
		startProc(t, svc, "c2", "", []string{"sleep", "1000000"}, false, false)
		c2ok = true
	})
	needC2 := func(t *testing.T) {
		if !c2ok {
			t.Skip("container c2 did not start")
		}
	}

	t.Run("exec", func(t *testing.T) {
		needC2(t)
		p := startProc(t, svc, "c2", "e1", []string{"sh", "-c", "echo exec-ok; echo to-stderr >&2; exit 7"}, false, false)
		if st := p.wait(t); st != 7 || p.stdout.String() != "exec-ok\n" || p.stderr.String() != "to-stderr\n" {
			t.Fatalf("exec: status %d, stdout %q, stderr %q", st, p.stdout, p.stderr)
		}
	})

	t.Run("sigterm", func(t *testing.T) {
		needC2(t)
		p := startProc(t, svc, "c2", "term", []string{"sleep", "1000"}, false, false)
		signal(t, svc, "c2", "term", syscall.SIGTERM)
		if st := p.wait(t); st != 143 {
			t.Fatalf("sleep after SIGTERM: status %d, want 143", st)
		}
	})

	t.Run("tty-and-resize", func(t *testing.T) {
		needC2(t)
		ctx := ctxFor(t, stepTimeout)
		p := startProc(t, svc, "c2", "tty", []string{"sh", "-c", "read a; stty size; read b; stty size"}, true, true)
		for _, step := range []struct {
			w, h  uint32
			input string
		}{{100, 40, "one\n"}, {132, 50, "two\n"}} {
			if _, err := svc.ResizePty(ctx, &agent.ResizePtyRequest{ContainerId: "c2", ExecId: "tty", Width: step.w, Height: step.h}); err != nil {
				t.Fatal(err)
			}
			if _, err := agentclient.WriteStdin(ctx, svc, []byte(step.input), "c2", "tty"); err != nil {
				t.Fatal(err)
			}
			if err := p.stdout.waitFor(ctx, fmt.Sprintf("%d %d", step.h, step.w)); err != nil {
				t.Fatalf("stty size after resizing to %dx%d: %v", step.w, step.h, err)
			}
		}
		if st := p.wait(t); st != 0 {
			t.Fatalf("tty process: status %d, output %q", st, p.stdout)
		}
		t.Logf("terminal output: %q", p.stdout)
	})

	t.Run("stdout-100MiB", func(t *testing.T) {
		needC2(t)
		// The guest repeats a random block whose length is no multiple of
		// any buffer or ring size, cut at 100 MiB; dom0 knows the block and
		// so the sha256 the whole stream must have. Copying a file costs
		// the guest little CPU, which the lab has little of (producing the
		// stream with /dev/urandom and sha256sum in the guest took over
		// ten minutes there).
		const size, blockSize = 100 << 20, 1<<20 + 1021
		blk := startProc(t, svc, "c2", "block", []string{"sh", "-c", fmt.Sprintf("head -c %d /dev/urandom >/tmp/block && cat /tmp/block", blockSize)}, false, false)
		st := blk.wait(t)
		block := []byte(blk.stdout.String())
		if st != 0 || len(block) != blockSize {
			t.Fatalf("block: status %d, %d bytes, stderr %q", st, len(block), blk.stderr)
		}
		want := sha256.New()
		for n := 0; n < size; n += blockSize {
			want.Write(block[:min(blockSize, size-n)])
		}

		ctx := ctxFor(t, 20*time.Minute)
		cpuBefore := guestCPU(t, h, g)
		statsBefore, _ := svc.Stats(ctx, &agent.ContainerRequest{ContainerId: "c2"})
		script := fmt.Sprintf("while cat /tmp/block; do :; done | head -c %d", size)
		p := startProcNoStdout(t, svc, "c2", "big", []string{"sh", "-c", script})
		sum := sha256.New()
		counted := &countingWriter{w: sum}
		start := time.Now()
		n, err := agentclient.CopyOutput(ctx, svc, counted, agentclient.Stdout, "c2", "big")
		elapsed := time.Since(start)
		if err != nil {
			t.Fatalf("after %d bytes: %v", n, err)
		}
		if st := p.wait(t); st != 0 {
			t.Fatalf("stream: status %d, stderr %q", st, p.stderr)
		}
		if got, exp := hex.EncodeToString(sum.Sum(nil)), hex.EncodeToString(want.Sum(nil)); n != size || got != exp {
			t.Fatalf("received %d bytes with sha256 %s; the guest sent %d with sha256 %s", n, got, size, exp)
		}
		cpu := guestCPU(t, h, g) - cpuBefore
		statsAfter, _ := svc.Stats(ctx, &agent.ContainerRequest{ContainerId: "c2"})
		var inContainer time.Duration
		if statsBefore != nil && statsAfter != nil {
			inContainer = time.Duration(statsAfter.CpuUsageUsec-statsBefore.CpuUsageUsec) * time.Microsecond
		}
		t.Logf("100 MiB through stdout intact in %s: %.2f MiB/s (lab speed, not hardware); %d ReadStdout replies, %.0f KiB each on average; guest CPU %s, of which the container's processes %s",
			elapsed.Round(time.Millisecond), float64(n)/(1<<20)/elapsed.Seconds(), counted.writes,
			float64(n)/1024/float64(max(counted.writes, 1)), cpu.Round(time.Second), inContainer.Round(time.Second))
	})

	t.Run("stdin-then-close", func(t *testing.T) {
		needC2(t)
		ctx := ctxFor(t, stepTimeout)
		p := startProc(t, svc, "c2", "cat", []string{"cat"}, false, true)
		in := make([]byte, 1<<20)
		_, _ = rand.Read(in)
		if _, err := agentclient.CopyStdin(ctx, svc, bytes.NewReader(in), "c2", "cat", true); err != nil {
			t.Fatal(err)
		}
		if st := p.wait(t); st != 0 {
			t.Fatalf("cat: status %d, stderr %q", st, p.stderr)
		}
		if out := p.stdout.String(); out != string(in) {
			t.Fatalf("cat echoed %d bytes, want the %d written", len(out), len(in))
		}
	})

	t.Run("stats-pause-resume-sigkill", func(t *testing.T) {
		needC2(t)
		ctx := ctxFor(t, stepTimeout)
		busy := startProc(t, svc, "c2", "busy", []string{"sh", "-c", "while :; do :; done"}, false, false)
		defer func() {
			// However the step ends, the loop must not eat the guest's CPU.
			_, _ = svc.SignalProcess(context.Background(), &agent.SignalProcessRequest{ContainerId: "c2", ExecId: "busy", Signal: uint32(syscall.SIGKILL)})
		}()
		stats := func() *agent.StatsResponse {
			s, err := svc.Stats(ctx, &agent.ContainerRequest{ContainerId: "c2"})
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
		s := waitStats(t, stats, func(s *agent.StatsResponse) bool { return s.CpuUsageUsec > 0 })
		if s.MemoryUsage == 0 || s.PidsCurrent < 2 {
			t.Fatalf("stats of a container running two processes: %+v", s)
		}
		t.Logf("stats: cpu %d µs, memory %d bytes, pids %d", s.CpuUsageUsec, s.MemoryUsage, s.PidsCurrent)
		lp, err := svc.ListProcesses(ctx, &agent.ContainerRequest{ContainerId: "c2"})
		if err != nil {
			t.Fatal(err)
		}
		var execs []string
		for _, p := range lp.Processes {
			execs = append(execs, p.ExecId)
		}
		if !strings.Contains(strings.Join(execs, ","), "busy") {
			t.Errorf("ListProcesses = %+v, want the busy exec", lp.Processes)
		}

		if _, err := svc.PauseContainer(ctx, &agent.ContainerRequest{ContainerId: "c2"}); err != nil {
			t.Fatal(err)
		}
		frozen := stats().CpuUsageUsec
		time.Sleep(3 * time.Second)
		if later := stats().CpuUsageUsec; later != frozen {
			t.Fatalf("paused container used CPU: %d µs, then %d µs", frozen, later)
		}
		if _, err := svc.ResumeContainer(ctx, &agent.ContainerRequest{ContainerId: "c2"}); err != nil {
			t.Fatal(err)
		}
		waitStats(t, stats, func(s *agent.StatsResponse) bool { return s.CpuUsageUsec > frozen })

		signal(t, svc, "c2", "busy", syscall.SIGKILL)
		if st := busy.wait(t); st != 137 {
			t.Fatalf("busy loop after SIGKILL: status %d, want 137", st)
		}
	})

	t.Run("misbehaving-guest", func(t *testing.T) {
		// Over the real vchan, dom0's interposer plays a guest that never
		// answers, then one that sends garbage; then a clean connection
		// proves the agent took new clients all along.
		c.Close()
		ctx := ctxFor(t, stepTimeout)

		mute := 20 * time.Second
		_, err := h.connect(ctx, g, mute, func(c net.Conn) net.Conn { return newInterposer(c, true) })
		if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "did not answer Version within") {
			t.Fatalf("connect to a guest that never answers: %v", err)
		}
		t.Logf("never answers: %v", err)

		var ip *interposer
		gc, err := h.connect(ctx, g, callTimeout, func(c net.Conn) net.Conn { ip = newInterposer(c, false); return ip })
		if err != nil {
			t.Fatal(err)
		}
		gsvc := gc.Agent()
		startProc(t, gsvc, "c2", "garbage", []string{"sleep", "1000"}, false, false)
		waited := make(chan error, 1)
		go func() {
			_, err := gsvc.WaitProcess(context.Background(), &agent.ProcessRequest{ContainerId: "c2", ExecId: "garbage"})
			waited <- err
		}()
		time.Sleep(2 * time.Second) // let WaitProcess reach the agent; the link is then quiet
		bad := make([]byte, 10)
		binary.BigEndian.PutUint32(bad[0:], 16)
		binary.BigEndian.PutUint32(bad[4:], 1)
		bad[8] = 1 // a request, which no agent sends
		ip.inject(bad)
		select {
		case err := <-waited:
			if !errors.Is(err, agentclient.ErrProtocol) {
				t.Fatalf("pending call after garbage: %v", err)
			}
			t.Logf("garbage: %v", err)
		case <-ctx.Done():
			t.Fatal("pending call hangs after garbage")
		}
		if !errors.Is(gc.Err(), agentclient.ErrProtocol) {
			t.Fatalf("connection after garbage: %v", gc.Err())
		}
		gc.Close()

		c, err = h.connect(ctx, g, callTimeout, nil)
		if err != nil {
			t.Fatalf("reconnect after the misbehaving clients: %v", err)
		}
		svc = c.Agent()
		signal(t, svc, "c2", "garbage", syscall.SIGKILL)
	})

	t.Run("destroy-mid-call", func(t *testing.T) {
		needC2(t)
		ctx := ctxFor(t, stepTimeout)
		waited := make(chan error, 1)
		go func() {
			_, err := svc.WaitProcess(context.Background(), &agent.ProcessRequest{ContainerId: "c2"})
			waited <- err
		}()
		time.Sleep(2 * time.Second)
		start := time.Now()
		if err := h.ts.Destroy(ctx, g.id); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-waited:
			if !errors.Is(err, agentclient.ErrDomainGone) || !strings.Contains(err.Error(), "WaitProcess") {
				t.Fatalf("WaitProcess on a destroyed domain: %v", err)
			}
			t.Logf("destroyed mid-call, %s after xl destroy began: %v", time.Since(start).Round(time.Millisecond), err)
		case <-ctx.Done():
			t.Fatal("WaitProcess hangs after the domain was destroyed")
		}
		if _, err := svc.Version(ctx, &emptypb.Empty{}); !errors.Is(err, agentclient.ErrDomainGone) {
			t.Fatalf("call after the domain died: %v", err)
		}
	})

	t.Run("nothing-left-behind", func(t *testing.T) {
		c.Close()
		if info, err := h.ts.Info(ctxFor(t, stepTimeout), g.id); !errors.Is(err, xen.ErrNoDomain) {
			// The destroy step failed or did not run: destroy here, then
			// check.
			t.Logf("domain still there (%+v, %v): destroying", info, err)
			if err := h.ts.Destroy(ctxFor(t, stepTimeout), g.id); err != nil {
				t.Fatal(err)
			}
		}
		if left := leftovers(t, h, g); len(left) > 0 {
			t.Fatalf("left behind:\n%s", strings.Join(left, "\n"))
		}
		if n := xenFDs(t); n != fdsBefore {
			t.Errorf("this process has %d files open on /dev/xen, %d before the guest", n, fdsBefore)
		}
		if n := gntdevMappings(t); n != 0 {
			t.Errorf("this process still maps %d granted areas", n)
		}
	})
}

// TestAgentctlRun runs runxen-agentctl as a user would: one command in a
// fresh guest, its output, its exit status, and the guest gone afterwards.
func TestAgentctlRun(t *testing.T) {
	h := newHost(t)
	bin := filepath.Join(binDir(t), "runxen-agentctl")
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("runxen-agentctl: %v", err)
	}
	name := uniqueName("agentctl")
	ctx := ctxFor(t, 2*bootTimeout)
	cmd := exec.CommandContext(ctx, bin, "run",
		"--kernel", guestImage(t, "vmlinuz"),
		"--initramfs", guestImage(t, "agent-test.initramfs"),
		"--memory", "256", "--name", name, "--timings",
		"--boot-timeout", bootTimeout.String(), "--call-timeout", callTimeout.String(),
		"--", "sh", "-c", "echo hi; echo err >&2; exit 3")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	t.Logf("runxen-agentctl stderr:\n%s", stderr.String())
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 3 {
		t.Fatalf("runxen-agentctl run: %v, want exit status 3", err)
	}
	if stdout.String() != "hi\n" || !strings.HasPrefix(stderr.String(), "err\n") || !strings.Contains(stderr.String(), "boot to agent answering") {
		t.Fatalf("stdout %q, stderr %q", stdout.String(), stderr.String())
	}
	doms, err := h.ts.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range doms {
		if d.Name == name {
			t.Fatalf("runxen-agentctl left its domain behind: %+v", d)
		}
	}
}

// TestAgentNeverAnswers: a domain whose agent never publishes its vchan
// (here: still paused) gives a clear error once the caller's deadline
// passes; one that powers off instead (the hello initramfs has no agent)
// gives a clear error as soon as it is gone.
func TestAgentNeverAnswers(t *testing.T) {
	h := newHost(t)
	g := h.createGuest(t, "noagent", "hello.initramfs", "console=hvc0 quiet", 128)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	_, err := h.connect(ctx, g, callTimeout, nil)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "no agent vchan at "+agent.AgentVchanPath(uint32(g.id))) {
		t.Fatalf("connect to a paused guest: %v", err)
	}
	t.Logf("paused guest, after %s: %v", time.Since(start).Round(time.Millisecond), err)

	ctx = ctxFor(t, bootTimeout)
	if err := h.ts.Unpause(ctx, g.id); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	_, err = h.connect(ctx, g, callTimeout, nil)
	if !errors.Is(err, agentclient.ErrDomainGone) || !strings.Contains(err.Error(), "shut down (poweroff)") {
		t.Fatalf("connect to a guest that powers off: %v", err)
	}
	t.Logf("guest without agent, %s after unpause: %v", time.Since(start).Round(time.Millisecond), err)
	info, err := h.ts.Info(ctx, g.id)
	if err != nil || info.State != xen.StateShutdown || info.Reason != xen.ReasonPoweroff {
		t.Fatalf("with xl create -e the powered-off domain waits for its owner: %+v, %v", info, err)
	}
	if err := h.ts.Destroy(ctx, g.id); err != nil {
		t.Fatal(err)
	}
	if left := leftovers(t, h, g); len(left) > 0 {
		t.Fatalf("left behind:\n%s", strings.Join(left, "\n"))
	}
}

func removeContainer(t *testing.T, svc agent.AgentService, id string) {
	t.Helper()
	if _, err := svc.RemoveContainer(ctxFor(t, stepTimeout), &agent.RemoveContainerRequest{ContainerId: id}); err != nil {
		t.Fatalf("remove container %s: %v", id, err)
	}
}

func signal(t *testing.T, svc agent.AgentService, cid, eid string, sig syscall.Signal) {
	t.Helper()
	if _, err := svc.SignalProcess(ctxFor(t, stepTimeout), &agent.SignalProcessRequest{ContainerId: cid, ExecId: eid, Signal: uint32(sig)}); err != nil {
		t.Fatalf("signal %v to %s/%s: %v", sig, cid, eid, err)
	}
}

func jsonProcess(args []string) ([]byte, error) {
	return json.Marshal(agentclient.DefaultProcess(args, false))
}

// waitStats polls Stats until ok (bounded by the step timeout): counters
// advance when the guest gets CPU time, which the lab hands out slowly.
func waitStats(t *testing.T, stats func() *agent.StatsResponse, ok func(*agent.StatsResponse) bool) *agent.StatsResponse {
	t.Helper()
	deadline := time.Now().Add(stepTimeout)
	for {
		s := stats()
		if ok(s) {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("stats never got there: %+v", s)
		}
		time.Sleep(time.Second)
	}
}

// countingWriter counts the writes (one per ReadStdout reply) through it.
type countingWriter struct {
	w      io.Writer
	writes int
}

func (c *countingWriter) Write(p []byte) (int, error) {
	c.writes++
	return c.w.Write(p)
}

// guestCPU is the CPU time the domain has used, as xl reports it.
func guestCPU(t *testing.T, h *host, g *guest) time.Duration {
	t.Helper()
	info, err := h.ts.Info(ctxFor(t, stepTimeout), g.id)
	if err != nil {
		t.Fatal(err)
	}
	return info.CPUTime
}

// startProcNoStdout starts an exec whose stdout the caller reads itself;
// its stderr is collected.
func startProcNoStdout(t *testing.T, svc agent.AgentService, cid, eid string, args []string) *proc {
	t.Helper()
	ctx := ctxFor(t, stepTimeout)
	ps, err := jsonProcess(args)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.ExecProcess(ctx, &agent.ExecProcessRequest{ContainerId: cid, ExecId: eid, Process: ps}); err != nil {
		t.Fatalf("exec %s %q: %v", eid, args, err)
	}
	if _, err := svc.StartProcess(ctx, &agent.ProcessRequest{ContainerId: cid, ExecId: eid}); err != nil {
		t.Fatalf("start exec %s: %v", eid, err)
	}
	p := &proc{svc: svc, cid: cid, eid: eid, stdout: newBuffer(), stderr: newBuffer(), outDone: make(chan error, 1), errDone: make(chan error, 1)}
	p.outDone <- nil // the caller reads stdout
	go func() {
		_, err := agentclient.CopyOutput(context.Background(), svc, p.stderr, agentclient.Stderr, cid, eid)
		p.errDone <- err
	}()
	return p
}
