//go:build dom0

package dom0

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"google.golang.org/protobuf/types/known/emptypb"

	agent "github.com/runxen/runxen/guest-agent/api/v1"
	"github.com/runxen/runxen/runtime/agentclient"
	"github.com/runxen/runxen/runtime/shares"
	"github.com/runxen/runxen/runtime/xen9pfs"
)

// Guest paths of the share tests.
const (
	guestSharesDir = "/run/runxen/shares"
	guestRootfs    = "/run/runxen/rootfs/share"
)

// dockerCaps are Docker's default capabilities: the share tests chown,
// mknod and chmod setuid files as a Docker container may.
var dockerCaps = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
	"CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
	"CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
}

// shareProcess is a process of the share tests' container: args as root
// with Docker's capabilities and the share tool's switch in its
// environment when it runs the tool.
func shareProcess(args []string, env ...string) *specs.Process {
	p := agentclient.DefaultProcess(args, false)
	p.Capabilities = &specs.LinuxCapabilities{Bounding: dockerCaps, Effective: dockerCaps, Permitted: dockerCaps}
	p.Env = append(p.Env, env...)
	p.NoNewPrivileges = false
	return p
}

// shareContainerSpec runs init in the root file system mounted at root,
// with the given binds (guest source -> container destination).
func shareContainerSpec(root string, init []string, binds ...specs.Mount) *specs.Spec {
	s := agentclient.DefaultSpec(root, init, false)
	s.Process = shareProcess(init)
	s.Mounts = append(s.Mounts, binds...)
	// As Docker does, let mknod reach the file system for any device:
	// the share's file server is what must refuse device nodes.
	s.Linux.Resources.Devices = append(s.Linux.Resources.Devices,
		specs.LinuxDeviceCgroup{Allow: true, Type: "c", Access: "m"},
		specs.LinuxDeviceCgroup{Allow: true, Type: "b", Access: "m"})
	return s
}

func bind(src, dst string, ro bool) specs.Mount {
	opts := []string{"rbind", "rw"}
	if ro {
		opts = []string{"rbind", "ro"}
	}
	return specs.Mount{Destination: dst, Type: "bind", Source: src, Options: opts}
}

// createShareContainer creates and starts container cid; its init's
// output is collected like startProc's.
func createShareContainer(t *testing.T, svc agent.AgentService, cid string, spec *specs.Spec) *proc {
	t.Helper()
	ctx := ctxFor(t, stepTimeout)
	b, err := json.Marshal(spec)
	must(t, err)
	if _, err := svc.CreateContainer(ctx, &agent.CreateContainerRequest{ContainerId: cid, Spec: b}); err != nil {
		t.Fatalf("create container %s: %v", cid, err)
	}
	if _, err := svc.StartContainer(ctx, &agent.StartContainerRequest{ContainerId: cid}); err != nil {
		t.Fatalf("start container %s: %v", cid, err)
	}
	return collect(svc, cid, "")
}

func collect(svc agent.AgentService, cid, eid string) *proc {
	p := &proc{svc: svc, cid: cid, eid: eid, stdout: newBuffer(), stderr: newBuffer(), outDone: make(chan error, 1), errDone: make(chan error, 1)}
	go func() {
		_, err := agentclient.CopyOutput(context.Background(), svc, p.stdout, agentclient.Stdout, cid, eid)
		p.outDone <- err
	}()
	go func() {
		_, err := agentclient.CopyOutput(context.Background(), svc, p.stderr, agentclient.Stderr, cid, eid)
		p.errDone <- err
	}()
	return p
}

var execSeq atomic.Int64

// startIn starts a process in container cid.
func startIn(t *testing.T, svc agent.AgentService, cid string, ps *specs.Process) *proc {
	t.Helper()
	ctx := ctxFor(t, stepTimeout)
	eid := fmt.Sprintf("x%d", execSeq.Add(1))
	b, err := json.Marshal(ps)
	must(t, err)
	if _, err := svc.ExecProcess(ctx, &agent.ExecProcessRequest{ContainerId: cid, ExecId: eid, Process: b}); err != nil {
		t.Fatalf("exec %q: %v", ps.Args, err)
	}
	if _, err := svc.StartProcess(ctx, &agent.ProcessRequest{ContainerId: cid, ExecId: eid}); err != nil {
		t.Fatalf("start %q: %v", ps.Args, err)
	}
	return collect(svc, cid, eid)
}

// shareStepTimeout bounds one process of the share tests: file I/O
// through 9P under emulation is slow, and busybox forks are slower.
const shareStepTimeout = 12 * time.Minute

// waitProc waits up to d for the process to exit, then for its output to
// end (proc.wait, whose WaitProcess then answers at once), and returns its
// exit status.
func waitProc(t *testing.T, p *proc, d time.Duration) uint32 {
	t.Helper()
	if _, err := p.svc.WaitProcess(ctxFor(t, d), &agent.ProcessRequest{ContainerId: p.cid, ExecId: p.eid}); err != nil {
		t.Fatalf("wait for %s/%s: %v (output so far: %q, %q)", p.cid, p.eid, err, p.stdout, p.stderr)
	}
	return p.wait(t)
}

// sh runs a shell script in container cid and returns its exit status,
// stdout and stderr.
func sh(t *testing.T, svc agent.AgentService, cid, script string) (uint32, string, string) {
	t.Helper()
	p := startIn(t, svc, cid, shareProcess([]string{"/bin/sh", "-c", script}))
	st := waitProc(t, p, shareStepTimeout)
	return st, p.stdout.String(), p.stderr.String()
}

// mustSh runs a script that must succeed and returns its stdout.
func mustSh(t *testing.T, svc agent.AgentService, cid, script string) string {
	t.Helper()
	st, out, errOut := sh(t, svc, cid, script)
	if st != 0 {
		t.Fatalf("script exited %d:\n%s\nstdout: %s\nstderr: %s", st, script, out, errOut)
	}
	return out
}

// tool runs the share tool in container cid and returns its result.
func tool(t *testing.T, svc agent.AgentService, cid string, args ...string) toolResult {
	t.Helper()
	p := startIn(t, svc, cid, shareProcess(append([]string{guestTool}, args...), shareToolEnv+"=1"))
	st := waitProc(t, p, shareStepTimeout)
	return parseTool(t, st, p.stdout.String(), p.stderr.String(), args)
}

func parseTool(t *testing.T, st uint32, out, errOut string, args []string) toolResult {
	t.Helper()
	var r toolResult
	if st != 0 || json.Unmarshal([]byte(strings.TrimSpace(out)), &r) != nil {
		t.Fatalf("share tool %q: status %d, stdout %q, stderr %q", args, st, out, errOut)
	}
	return r
}

// newShares starts serving shares to g, closed at the end of the test.
func newShares(t *testing.T, h *host, g *guest, mod func(*shares.Config)) *shares.Set {
	t.Helper()
	cfg := shares.Config{Store: h.xs, Domain: uint32(g.id), DomainExited: xen9pfs.ToolstackExited(h.ts), ConnectTimeout: bootTimeout}
	if mod != nil {
		mod(&cfg)
	}
	s, err := shares.New(ctxFor(t, stepTimeout), cfg)
	must(t, err)
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close shares: %v", err)
		}
	})
	return s
}

// mountShare asks the agent to mount a share.
func mountShare(t *testing.T, svc agent.AgentService, r *agent.MountShareRequest) {
	t.Helper()
	start := time.Now()
	if _, err := svc.MountShare(ctxFor(t, stepTimeout), r); err != nil {
		t.Fatalf("mount share %q at %s: %v", r.Tag, r.Target, err)
	}
	t.Logf("share %q mounted at %s in %s", r.Tag, r.Target, time.Since(start).Round(time.Millisecond))
}

// syncShares flushes the guest, then dom0's side.
func syncShares(t *testing.T, svc agent.AgentService, s *shares.Set) {
	t.Helper()
	ctx := ctxFor(t, stepTimeout)
	if _, err := svc.SyncFS(ctx, &emptypb.Empty{}); err != nil {
		t.Fatalf("SyncFS: %v", err)
	}
	if err := s.Sync(ctx); err != nil {
		t.Fatalf("Sync: %v", err)
	}
}

// step runs a subtest and logs at once how long it took: when a later step
// hangs until the test binary's timeout, the earlier steps' figures are
// still in the output.
func step(t *testing.T, name string, f func(t *testing.T)) bool {
	start := time.Now()
	return t.Run(name, func(t *testing.T) {
		defer func() { t.Logf("step %s took %s", name, time.Since(start).Round(time.Millisecond)) }()
		f(t)
	})
}
