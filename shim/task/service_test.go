package task

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	cgroupsv2 "github.com/containerd/cgroups/v3/cgroup2/stats"
	taskv3 "github.com/containerd/containerd/api/runtime/task/v3"
	"github.com/containerd/containerd/api/types"
	"github.com/containerd/containerd/api/types/task"
	"github.com/containerd/typeurl/v2"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/runxen/runxen/runtime/agentclient"
	"github.com/runxen/runxen/shim/bundle"
)

func TestLifecycle(t *testing.T) {
	for _, tc := range []struct {
		name       string
		args       []string
		kill       syscall.Signal
		wantStatus uint32
		wantOut    string
		wantErr    string
	}{
		{name: "output", args: []string{"echo", "hi"}, wantOut: "hi\n"},
		{name: "exit code", args: []string{"exit", "3"}, wantStatus: 3},
		{name: "stderr", args: []string{"err", "oops"}, wantErr: "oops\n"},
		{name: "large output drained before the exit", args: []string{"big", "3000000"}, wantOut: strings.Repeat("x", 3000000)},
		{name: "killed", args: []string{"wait"}, kill: syscall.SIGKILL, wantStatus: 137},
		{name: "terminated", args: []string{"wait"}, kill: syscall.SIGTERM, wantStatus: 143},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			ctx := context.Background()
			r := h.mustCreate("c1", tc.args, nil)
			st, err := h.s.State(ctx, &taskv3.StateRequest{ID: "c1"})
			if err != nil || st.Status != task.Status_CREATED || st.Pid != 4242 {
				t.Fatalf("state after create: %v, %v", st, err)
			}
			resp, err := h.s.Start(ctx, &taskv3.StartRequest{ID: "c1"})
			if err != nil {
				t.Fatal(err)
			}
			if resp.Pid != 4242 {
				t.Errorf("start pid %d, want the holder's 4242", resp.Pid)
			}
			if tc.kill != 0 {
				if _, err := h.s.Kill(ctx, &taskv3.KillRequest{ID: "c1", Signal: uint32(tc.kill)}); err != nil {
					t.Fatal(err)
				}
			}
			w := h.wait("c1", "")
			if w.ExitStatus != tc.wantStatus {
				t.Errorf("exit status %d, want %d", w.ExitStatus, tc.wantStatus)
			}
			// The exit is reported only once the output was delivered.
			if got := readFile(t, r.Stdout); got != tc.wantOut {
				t.Errorf("stdout %d bytes %.40q, want %d bytes %.40q", len(got), got, len(tc.wantOut), tc.wantOut)
			}
			if got := readFile(t, r.Stderr); got != tc.wantErr {
				t.Errorf("stderr %q, want %q", got, tc.wantErr)
			}
			st, err = h.s.State(ctx, &taskv3.StateRequest{ID: "c1"})
			if err != nil || st.Status != task.Status_STOPPED || st.ExitStatus != tc.wantStatus {
				t.Fatalf("state after exit: %v, %v", st, err)
			}
			d, err := h.s.Delete(ctx, &taskv3.DeleteRequest{ID: "c1"})
			if err != nil {
				t.Fatal(err)
			}
			if d.ExitStatus != tc.wantStatus || d.Pid != 4242 {
				t.Errorf("delete: %v", d)
			}
			want := []string{"create c1", "start c1", "exit c1=" + itoa(tc.wantStatus), "delete c1"}
			if got := h.ev.names(); !slices.Equal(got, want) {
				t.Errorf("events %v, want %v", got, want)
			}
			if n := h.sandbox().destroyed; n != 1 {
				t.Errorf("sandbox destroyed %d times", n)
			}
			if h.holder.closed != 1 {
				t.Errorf("holder closed %d times", h.holder.closed)
			}
			if _, err := os.Stat(filepath.Join(r.Bundle, bundle.RecordFile)); !os.IsNotExist(err) {
				t.Errorf("record left behind: %v", err)
			}
			if _, err := h.s.State(ctx, &taskv3.StateRequest{ID: "c1"}); status.Code(err) != codes.NotFound {
				t.Errorf("state after delete: %v", err)
			}
		})
	}
}

func itoa(n uint32) string { return strconv.FormatUint(uint64(n), 10) }

func execSpec(t *testing.T, args ...string) *taskv3.ExecProcessRequest {
	t.Helper()
	a, err := typeurl.MarshalAnyToProto(&specs.Process{Args: args, Cwd: "/"})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	if err := os.WriteFile(out, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	return &taskv3.ExecProcessRequest{Spec: a, Stdout: out}
}

func TestExec(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	h.mustCreate("c1", []string{"wait"}, nil)
	if _, err := h.s.Start(ctx, &taskv3.StartRequest{ID: "c1"}); err != nil {
		t.Fatal(err)
	}
	er := execSpec(t, "echo", "from exec")
	er.ID, er.ExecID = "c1", "e1"
	if _, err := h.s.Exec(ctx, er); err != nil {
		t.Fatal(err)
	}
	if _, err := h.s.Exec(ctx, er); status.Code(err) != codes.AlreadyExists {
		t.Errorf("second exec with the same ID: %v", err)
	}
	st, err := h.s.State(ctx, &taskv3.StateRequest{ID: "c1", ExecID: "e1"})
	if err != nil || st.Status != task.Status_CREATED || st.ExecID != "e1" {
		t.Fatalf("exec state: %v %v", st, err)
	}
	if _, err := h.s.Start(ctx, &taskv3.StartRequest{ID: "c1", ExecID: "e1"}); err != nil {
		t.Fatal(err)
	}
	if w := h.wait("c1", "e1"); w.ExitStatus != 0 {
		t.Errorf("exec exit %d", w.ExitStatus)
	}
	if got := readFile(t, er.Stdout); got != "from exec\n" {
		t.Errorf("exec stdout %q", got)
	}
	if _, err := h.s.Delete(ctx, &taskv3.DeleteRequest{ID: "c1", ExecID: "e1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.s.State(ctx, &taskv3.StateRequest{ID: "c1", ExecID: "e1"}); status.Code(err) != codes.NotFound {
		t.Errorf("state of a deleted exec: %v", err)
	}
	if _, err := h.s.Kill(ctx, &taskv3.KillRequest{ID: "c1", Signal: uint32(syscall.SIGKILL)}); err != nil {
		t.Fatal(err)
	}
	h.wait("c1", "")
	want := []string{"create c1", "start c1", "exec-added e1", "exec-started e1", "exit e1=0", "exit c1=137"}
	if got := h.ev.names(); !slices.Equal(got, want) {
		t.Errorf("events %v, want %v", got, want)
	}
	if _, err := h.s.Exec(ctx, &taskv3.ExecProcessRequest{ID: "c1", ExecID: "e2", Spec: er.Spec}); status.Code(err) != codes.FailedPrecondition {
		t.Errorf("exec in a stopped container: %v", err)
	}
}

// TestInitExitLast: the init's exit is published after every exec's, also
// when an exec never reports its exit.
func TestInitExitLast(t *testing.T) {
	defer func(g time.Duration) { ExecGrace = g }(ExecGrace)
	ExecGrace = 200 * time.Millisecond
	h := newHarness(t)
	ctx := context.Background()
	h.mustCreate("c1", []string{"wait"}, nil)
	if _, err := h.s.Start(ctx, &taskv3.StartRequest{ID: "c1"}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"e1", "e2"} {
		er := execSpec(t, "wait")
		er.ID, er.ExecID = "c1", id
		if _, err := h.s.Exec(ctx, er); err != nil {
			t.Fatal(err)
		}
		if _, err := h.s.Start(ctx, &taskv3.StartRequest{ID: "c1", ExecID: id}); err != nil {
			t.Fatal(err)
		}
	}
	// e1 exits by itself; e2 outlives the init and the fake guest never
	// kills it, so its exit is lost.
	if _, err := h.s.Kill(ctx, &taskv3.KillRequest{ID: "c1", ExecID: "e1", Signal: uint32(syscall.SIGKILL)}); err != nil {
		t.Fatal(err)
	}
	h.ev.waitFor(t, "exit e1=137")
	if _, err := h.s.Kill(ctx, &taskv3.KillRequest{ID: "c1", Signal: uint32(syscall.SIGTERM)}); err != nil {
		t.Fatal(err)
	}
	if w := h.wait("c1", ""); w.ExitStatus != 143 {
		t.Errorf("init exit %d", w.ExitStatus)
	}
	if w := h.wait("c1", "e2"); w.ExitStatus != lostExit {
		t.Errorf("lost exec's exit %d, want %d", w.ExitStatus, lostExit)
	}
	got := h.ev.names()
	want := []string{"create c1", "start c1", "exec-added e1", "exec-started e1", "exec-added e2", "exec-started e2",
		"exit e1=137", "exit e2=255", "exit c1=143"}
	if !slices.Equal(got, want) {
		t.Errorf("events %v, want %v", got, want)
	}
	// The fake guest got the kill of everything left.
	if !slices.Contains(h.ag.Calls(), "SignalProcess") {
		t.Error("no SignalProcess call")
	}
	if _, err := h.s.Start(ctx, &taskv3.StartRequest{ID: "c1", ExecID: "e2"}); status.Code(err) != codes.FailedPrecondition {
		t.Errorf("restart a stopped exec: %v", err)
	}
}

func TestHooks(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	hk := func(p string) []specs.Hook { return []specs.Hook{{Path: p}} }
	h.mustCreate("c1", []string{"exit", "0"}, func(s *specs.Spec) {
		s.Hooks = &specs.Hooks{
			//lint:ignore SA1019 Docker 26 wires its network through prestart
			Prestart:      hk("/prestart"),
			CreateRuntime: hk("/createRuntime"),
			Poststart:     hk("/poststart"),
			Poststop:      hk("/poststop"),
		}
	})
	if _, err := h.s.Start(ctx, &taskv3.StartRequest{ID: "c1"}); err != nil {
		t.Fatal(err)
	}
	h.wait("c1", "")
	if _, err := h.s.Delete(ctx, &taskv3.DeleteRequest{ID: "c1"}); err != nil {
		t.Fatal(err)
	}
	want := []hookCall{
		{"/prestart", specs.StateCreating, 4242},
		{"/createRuntime", specs.StateCreating, 4242},
		{"/poststart", specs.StateRunning, 4242},
		{"/poststop", specs.StateStopped, 4242},
	}
	if !slices.Equal(h.hooks, want) {
		t.Errorf("hooks %v, want %v", h.hooks, want)
	}
}

// TestCreateFailureLeavesNothing: whatever step fails, what the earlier
// ones made is undone.
func TestCreateFailureLeavesNothing(t *testing.T) {
	for _, tc := range []struct {
		name      string
		edit      func(*specs.Spec)
		sbErr     error
		hookErr   string
		want      codes.Code
		wantHooks []string
		holder    bool // the holder was started (and must be closed)
	}{
		{
			name: "guest fails", sbErr: errors.New("boom"), want: codes.Unknown, holder: true,
			edit: func(s *specs.Spec) {
				s.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{{Path: "/cni-up"}}, Poststop: []specs.Hook{{Path: "/cni-down"}}}
			},
			wantHooks: []string{"/cni-up", "/cni-down"},
		},
		{
			name: "prestart hook fails", hookErr: "/setkey", want: codes.Unknown, holder: true,
			edit: func(s *specs.Spec) {
				//lint:ignore SA1019 Docker 26 wires its network through prestart
				s.Hooks = &specs.Hooks{Prestart: []specs.Hook{{Path: "/setkey"}}, Poststop: []specs.Hook{{Path: "/cleanup"}}}
			},
			wantHooks: []string{"/setkey", "/cleanup"},
		},
		{
			name: "createContainer hook refused before anything", want: codes.Unimplemented,
			edit: func(s *specs.Spec) { s.Hooks = &specs.Hooks{CreateContainer: []specs.Hook{{Path: "/x"}}} },
		},
		{
			name: "terminal disagreement", want: codes.InvalidArgument,
			edit: func(s *specs.Spec) { s.Process.Terminal = true },
		},
		{
			name: "no root", want: codes.InvalidArgument,
			edit: func(s *specs.Spec) { s.Root = nil },
		},
		{
			name: "root missing on the host", want: codes.InvalidArgument,
			edit: func(s *specs.Spec) { s.Root.Path = "/nonexistent/rootfs" },
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.sbErr = tc.sbErr
			if tc.hookErr != "" {
				h.hookErr[tc.hookErr] = errors.New("hook failed")
			}
			dir := h.bundle([]string{"exit", "0"}, tc.edit)
			r := &taskv3.CreateTaskRequest{
				ID: "c1", Bundle: dir, Stdout: filepath.Join(dir, "stdout"),
				Rootfs: []*types.Mount{{Type: "overlay", Source: "overlay", Options: []string{"lowerdir=/a"}}},
			}
			_, err := h.s.Create(context.Background(), r)
			if status.Code(err) != tc.want {
				t.Fatalf("create: %v, want code %v", err, tc.want)
			}
			var paths []string
			for _, c := range h.hooks {
				paths = append(paths, c.path)
			}
			if !slices.Equal(paths, tc.wantHooks) {
				t.Errorf("hooks %v, want %v", paths, tc.wantHooks)
			}
			if tc.holder && h.holder.closed != 1 {
				t.Errorf("holder closed %d times", h.holder.closed)
			}
			if len(h.mounts) != len(h.unmounts) {
				t.Errorf("mounted %v, unmounted %v", h.mounts, h.unmounts)
			}
			if _, err := os.Stat(filepath.Join(dir, bundle.RecordFile)); !os.IsNotExist(err) {
				t.Errorf("record left behind: %v", err)
			}
			if len(h.ev.all()) != 0 {
				t.Errorf("events after a failed create: %v", h.ev.names())
			}
			// The ID is free again.
			h.sbErr = nil
			h.hookErr = map[string]error{}
			if _, err := h.create("c1", []string{"exit", "0"}, nil); err != nil {
				t.Errorf("create again: %v", err)
			}
		})
	}
}

func TestRootfsMounts(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	dir := h.bundle([]string{"exit", "0"}, nil)
	r := &taskv3.CreateTaskRequest{ID: "c1", Bundle: dir, Rootfs: []*types.Mount{{Type: "bind", Source: "/x", Options: []string{"rbind"}}}}
	if _, err := h.s.Create(ctx, r); err != nil {
		t.Fatal(err)
	}
	want := []string{filepath.Join(dir, "rootfs")}
	if !slices.Equal(h.mounts, want) {
		t.Errorf("mounts %v, want %v", h.mounts, want)
	}
	rec, err := bundle.ReadRecord(dir)
	if err != nil || rec.Mounted != want[0] || rec.Domain != "runxen-c1" || rec.HolderPid != 4242 || rec.Namespace != "testns" {
		t.Errorf("record %+v, %v", rec, err)
	}
	if got := h.sandbox().req.RootfsDir; got != want[0] {
		t.Errorf("sandbox rootfs %q", got)
	}
	// Deleting a created, never started task is allowed.
	if _, err := h.s.Delete(ctx, &taskv3.DeleteRequest{ID: "c1"}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(h.unmounts, want) {
		t.Errorf("unmounts %v, want %v", h.unmounts, want)
	}
	if got, want := h.ev.names(), []string{"create c1", "delete c1"}; !slices.Equal(got, want) {
		t.Errorf("events %v, want %v", got, want)
	}

	// An absolute root (Docker) is used as it is: the mounts are not.
	h2 := newHarness(t)
	root := t.TempDir()
	dir = h2.bundle([]string{"exit", "0"}, func(s *specs.Spec) { s.Root.Path = root })
	r = &taskv3.CreateTaskRequest{ID: "c2", Bundle: dir, Rootfs: r.Rootfs}
	if _, err := h2.s.Create(ctx, r); err != nil {
		t.Fatal(err)
	}
	if len(h2.mounts) != 0 || h2.sandbox().req.RootfsDir != root {
		t.Errorf("mounts %v, rootfs %q", h2.mounts, h2.sandbox().req.RootfsDir)
	}
}

func TestErrorsMapped(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	h.mustCreate("c1", []string{"wait"}, nil)
	badOpts, _ := typeurl.MarshalAnyToProto(&specs.Process{})
	for _, tc := range []struct {
		name string
		call func() error
		want codes.Code
	}{
		{"state of unknown task", func() error {
			_, err := h.s.State(ctx, &taskv3.StateRequest{ID: "nope"})
			return err
		}, codes.NotFound},
		{"state of unknown exec", func() error {
			_, err := h.s.State(ctx, &taskv3.StateRequest{ID: "c1", ExecID: "nope"})
			return err
		}, codes.NotFound},
		{"duplicate create", func() error {
			_, err := h.create("c1", []string{"x"}, nil)
			return err
		}, codes.AlreadyExists},
		{"checkpoint", func() error {
			_, err := h.s.Checkpoint(ctx, &taskv3.CheckpointTaskRequest{ID: "c1"})
			return err
		}, codes.Unimplemented},
		{"create from a checkpoint", func() error {
			_, err := h.s.Create(ctx, &taskv3.CreateTaskRequest{ID: "c9", Bundle: "/x", Checkpoint: "/cp"})
			return err
		}, codes.Unimplemented},
		{"runtime options of another runtime", func() error {
			_, err := h.s.Create(ctx, &taskv3.CreateTaskRequest{ID: "c9", Bundle: "/x", Options: badOpts})
			return err
		}, codes.InvalidArgument},
		{"bundle without a spec", func() error {
			_, err := h.s.Create(ctx, &taskv3.CreateTaskRequest{ID: "c9", Bundle: t.TempDir()})
			return err
		}, codes.NotFound},
		{"pause before start", func() error {
			_, err := h.s.Pause(ctx, &taskv3.PauseRequest{ID: "c1"})
			return err
		}, codes.FailedPrecondition},
		{"exec before start", func() error {
			er := execSpec(t, "echo")
			er.ID, er.ExecID = "c1", "e1"
			_, err := h.s.Exec(ctx, er)
			return err
		}, codes.FailedPrecondition},
		{"resize beyond a winsize", func() error {
			_, err := h.s.ResizePty(ctx, &taskv3.ResizePtyRequest{ID: "c1", Width: 1 << 16, Height: 24})
			return err
		}, codes.InvalidArgument},
		{"signal out of range", func() error {
			_, err := h.s.Kill(ctx, &taskv3.KillRequest{ID: "c1", Signal: 99})
			return err
		}, codes.InvalidArgument},
		{"delete a running task", func() error {
			if _, err := h.s.Start(ctx, &taskv3.StartRequest{ID: "c1"}); err != nil {
				return err
			}
			_, err := h.s.Delete(ctx, &taskv3.DeleteRequest{ID: "c1"})
			return err
		}, codes.FailedPrecondition},
		{"start twice", func() error {
			_, err := h.s.Start(ctx, &taskv3.StartRequest{ID: "c1"})
			return err
		}, codes.FailedPrecondition},
		{"resume a running task", func() error {
			_, err := h.s.Resume(ctx, &taskv3.ResumeRequest{ID: "c1"})
			return err
		}, codes.FailedPrecondition},
		{"the agent's own code is kept", func() error {
			h.sandbox().resizeErr = fmt.Errorf("agent in domain 7: ResizePty: %w", status.Error(codes.NotFound, "no terminal"))
			defer func() { h.sandbox().resizeErr = nil }()
			_, err := h.s.ResizePty(ctx, &taskv3.ResizePtyRequest{ID: "c1", Width: 80, Height: 24})
			return err
		}, codes.NotFound},
		{"a guest that is gone is unavailable", func() error {
			h.sandbox().resizeErr = fmt.Errorf("agent in domain 7: ResizePty: %w", agentclient.ErrDomainGone)
			defer func() { h.sandbox().resizeErr = nil }()
			_, err := h.s.ResizePty(ctx, &taskv3.ResizePtyRequest{ID: "c1", Width: 80, Height: 24})
			return err
		}, codes.Unavailable},
		{"kill a finished task", func() error {
			if _, err := h.s.Kill(ctx, &taskv3.KillRequest{ID: "c1", Signal: 9}); err != nil {
				return err
			}
			h.wait("c1", "")
			_, err := h.s.Kill(ctx, &taskv3.KillRequest{ID: "c1", Signal: 9})
			return err
		}, codes.NotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			if got := status.Code(err); got != tc.want {
				t.Errorf("got %v (%v), want %v", got, err, tc.want)
			}
		})
	}
}

func TestPauseResumeUpdateStats(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	h.mustCreate("c1", []string{"wait"}, nil)
	if _, err := h.s.Start(ctx, &taskv3.StartRequest{ID: "c1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.s.Pause(ctx, &taskv3.PauseRequest{ID: "c1"}); err != nil {
		t.Fatal(err)
	}
	if st, _ := h.s.State(ctx, &taskv3.StateRequest{ID: "c1"}); st.Status != task.Status_PAUSED {
		t.Errorf("state %v, want paused", st.Status)
	}
	if !h.ag.Paused("c1") {
		t.Error("the guest's container is not paused")
	}
	if _, err := h.s.Pause(ctx, &taskv3.PauseRequest{ID: "c1"}); status.Code(err) != codes.FailedPrecondition {
		t.Errorf("pause twice: %v", err)
	}
	if _, err := h.s.Resume(ctx, &taskv3.ResumeRequest{ID: "c1"}); err != nil {
		t.Fatal(err)
	}
	if st, _ := h.s.State(ctx, &taskv3.StateRequest{ID: "c1"}); st.Status != task.Status_RUNNING {
		t.Errorf("state %v, want running", st.Status)
	}
	h.sandbox().failPause = errors.New("guest flush failed")
	if _, err := h.s.Pause(ctx, &taskv3.PauseRequest{ID: "c1"}); err == nil {
		t.Error("a failed pause succeeded")
	}
	if st, _ := h.s.State(ctx, &taskv3.StateRequest{ID: "c1"}); st.Status != task.Status_RUNNING {
		t.Errorf("state after a failed pause %v, want running", st.Status)
	}

	limit := int64(64 << 20)
	res, err := typeurl.MarshalAnyToProto(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &limit}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.s.Update(ctx, &taskv3.UpdateTaskRequest{ID: "c1", Resources: res}); err != nil {
		t.Fatal(err)
	}
	if u := h.sandbox().updates; len(u) != 1 || *u[0].Memory.Limit != limit {
		t.Errorf("updates %v", u)
	}

	sr, err := h.s.Stats(ctx, &taskv3.StatsRequest{ID: "c1"})
	if err != nil {
		t.Fatal(err)
	}
	v, err := typeurl.UnmarshalAny(sr.Stats)
	if err != nil {
		t.Fatal(err)
	}
	m, ok := v.(*cgroupsv2.Metrics)
	if !ok {
		t.Fatalf("stats are a %T, want cgroup v2 metrics (all docker stats accepts besides v1)", v)
	}
	// agenttest reports 1000 us of CPU, 1 MiB of memory, 1 pid.
	if m.CPU.UsageUsec != 1000 || m.Memory.Usage != 1<<20 || m.Pids.Current != 1 {
		t.Errorf("metrics %v", m)
	}

	p, err := h.s.Pids(ctx, &taskv3.PidsRequest{ID: "c1"})
	if err != nil || len(p.Processes) != 1 || p.Processes[0].Pid != 4242 {
		t.Errorf("pids %v, %v", p, err)
	}
	c, err := h.s.Connect(ctx, &taskv3.ConnectRequest{ID: "c1"})
	if err != nil || c.TaskPid != 4242 || c.ShimPid != uint32(os.Getpid()) {
		t.Errorf("connect %v, %v", c, err)
	}
	want := []string{"create c1", "start c1", "paused c1", "resumed c1"}
	if got := h.ev.names(); !slices.Equal(got, want) {
		t.Errorf("events %v, want %v", got, want)
	}
}

func TestOOMEvents(t *testing.T) {
	h := newHarness(t)
	h.mustCreate("c1", []string{"wait"}, nil)
	sb := h.sandbox()
	sb.oom <- "not-mine"
	sb.oom <- "c1"
	h.ev.waitFor(t, "oom c1")
	for _, n := range h.ev.names() {
		if n == "oom not-mine" {
			t.Error("OOM event for a container the sandbox does not hold")
		}
	}
}

func TestStdinAndCloseIO(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	dir := h.bundle([]string{"cat"}, nil)
	stdin := filepath.Join(dir, "stdin")
	if err := syscall.Mkfifo(stdin, 0o600); err != nil {
		t.Fatal(err)
	}
	r := &taskv3.CreateTaskRequest{ID: "c1", Bundle: dir, Stdin: stdin, Stdout: filepath.Join(dir, "stdout")}
	if _, err := h.s.Create(ctx, r); err != nil {
		t.Fatal(err)
	}
	if _, err := h.s.Start(ctx, &taskv3.StartRequest{ID: "c1"}); err != nil {
		t.Fatal(err)
	}
	w, err := os.OpenFile(stdin, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("piped in\n")); err != nil {
		t.Fatal(err)
	}
	// As Docker does: close its end, then CloseIO.
	w.Close()
	if _, err := h.s.CloseIO(ctx, &taskv3.CloseIORequest{ID: "c1", Stdin: true}); err != nil {
		t.Fatal(err)
	}
	if w := h.wait("c1", ""); w.ExitStatus != 0 {
		t.Errorf("exit %d", w.ExitStatus)
	}
	if got := readFile(t, r.Stdout); got != "piped in\n" {
		t.Errorf("stdout %q", got)
	}
}

func TestShutdownOnlyWhenEmpty(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	h.mustCreate("c1", []string{"exit", "0"}, nil)
	if _, err := h.s.Shutdown(ctx, &taskv3.ShutdownRequest{ID: "c1"}); err != nil {
		t.Fatal(err)
	}
	if h.shutdowns != 0 {
		t.Fatal("shut down with a container")
	}
	if _, err := h.s.Delete(ctx, &taskv3.DeleteRequest{ID: "c1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.s.Shutdown(ctx, &taskv3.ShutdownRequest{ID: "c1"}); err != nil {
		t.Fatal(err)
	}
	if h.shutdowns != 1 {
		t.Fatalf("shutdowns %d", h.shutdowns)
	}
}

// TestCloseTearsDown: a shim that exits with containers tears them down.
func TestCloseTearsDown(t *testing.T) {
	h := newHarness(t)
	h.mustCreate("c1", []string{"wait"}, nil)
	if _, err := h.s.Start(context.Background(), &taskv3.StartRequest{ID: "c1"}); err != nil {
		t.Fatal(err)
	}
	h.s.Close(context.Background())
	if h.sandbox().destroyed != 1 || h.holder.closed != 1 {
		t.Errorf("destroyed %d, holder closed %d", h.sandbox().destroyed, h.holder.closed)
	}
}

// TestGuestDies: a guest that goes away reports its processes' exits as
// lost (255), in order, and the container can still be killed and deleted.
func TestGuestDies(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	h.mustCreate("c1", []string{"wait"}, nil)
	if _, err := h.s.Start(ctx, &taskv3.StartRequest{ID: "c1"}); err != nil {
		t.Fatal(err)
	}
	er := execSpec(t, "wait")
	er.ID, er.ExecID = "c1", "e1"
	if _, err := h.s.Exec(ctx, er); err != nil {
		t.Fatal(err)
	}
	if _, err := h.s.Start(ctx, &taskv3.StartRequest{ID: "c1", ExecID: "e1"}); err != nil {
		t.Fatal(err)
	}
	h.sandbox().Destroy(ctx) // the guest crashes
	if w := h.wait("c1", ""); w.ExitStatus != lostExit {
		t.Errorf("exit %d, want %d", w.ExitStatus, lostExit)
	}
	got := h.ev.names()
	if n := len(got); n < 2 || got[n-2] != "exit e1=255" || got[n-1] != "exit c1=255" {
		t.Errorf("events %v: want the exec's lost exit, then the init's", got)
	}
	if _, err := h.s.Kill(ctx, &taskv3.KillRequest{ID: "c1", Signal: 9, All: true}); err != nil {
		t.Errorf("kill of a dead guest's container: %v", err)
	}
	if _, err := h.s.Delete(ctx, &taskv3.DeleteRequest{ID: "c1"}); err != nil {
		t.Fatal(err)
	}
}
