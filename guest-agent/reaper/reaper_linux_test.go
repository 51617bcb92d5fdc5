//go:build linux

package reaper

import (
	"context"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	runc "github.com/containerd/go-runc"
)

// The tests make the test binary a subreaper, as the agent is when not PID
// 1, and run one Reaper for the whole package (one SIGCHLD consumer, as in
// the agent).
var (
	orphans = make(chan Exit, 100)
	testR   = New(func(e Exit) { orphans <- e })
)

func TestMain(m *testing.M) {
	if err := SetChildSubreaper(); err != nil {
		panic(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go testR.Run(ctx)
	code := m.Run()
	cancel()
	os.Exit(code)
}

func run(t *testing.T, script string) (int, string) {
	t.Helper()
	c := exec.Command("sh", "-c", script)
	var out lockedBuffer
	c.Stdout = &out
	ec, err := testR.Start(c)
	if err != nil {
		t.Skipf("cannot start sh: %v", err)
	}
	status, err := testR.Wait(c, ec)
	if err != nil {
		t.Fatal(err)
	}
	return status, string(out.Bytes())
}

func TestExitStatuses(t *testing.T) {
	tests := []struct {
		script string
		want   int
	}{
		{"exit 0", 0},
		{"exit 3", 3},
		{"kill -KILL $$", 128 + 9},
		{"kill -TERM $$", 128 + 15},
	}
	for _, tt := range tests {
		if got, _ := run(t, tt.script); got != tt.want {
			t.Errorf("%q: status %d, want %d", tt.script, got, tt.want)
		}
	}
}

func TestOutputIsFlushed(t *testing.T) {
	_, out := run(t, "echo hello")
	if out != "hello\n" {
		t.Fatalf("output %q", out)
	}
}

// TestOrphanGoesToHandler: a grandchild orphaned by its parent is reaped
// and reported to the handler, not lost and not given to a command waiter.
func TestOrphanGoesToHandler(t *testing.T) {
	status, out := run(t, "sh -c 'sleep 0.3; exit 7' & echo $!")
	if status != 0 {
		t.Fatalf("status %d", status)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(out))
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.After(10 * time.Second)
	for {
		select {
		case e := <-orphans:
			if e.Pid == pid {
				if e.Status != 7 {
					t.Errorf("orphan status %d, want 7", e.Status)
				}
				return
			}
		case <-deadline:
			t.Fatalf("orphan %d never reported", pid)
		}
	}
}

// TestConcurrentCommands: many commands exiting at once each get their own
// status (run with -race).
func TestConcurrentCommands(t *testing.T) {
	var wg sync.WaitGroup
	for i := 0; i < 40; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			if got, _ := run(t, "exit "+strconv.Itoa(i)); got != i {
				t.Errorf("command %d: status %d", i, got)
			}
		}(i)
	}
	wg.Wait()
}

func TestGoRuncMonitorHook(t *testing.T) {
	var m runc.ProcessMonitor = testR
	c := exec.Command("sh", "-c", "exit 5")
	ec, err := m.StartLocked(c)
	if err != nil {
		t.Skip(err)
	}
	if status, _ := m.Wait(c, ec); status != 5 {
		t.Fatalf("status %d", status)
	}
}

func TestCommand(t *testing.T) {
	out, err := testR.Command(exec.Command("sh", "-c", "echo out; echo err >&2"))
	if err != nil || !strings.Contains(string(out), "out") || !strings.Contains(string(out), "err") {
		t.Fatalf("Command = %q, %v", out, err)
	}
	if _, err := testR.Command(exec.Command("sh", "-c", "echo bad; exit 2")); err == nil || !strings.Contains(err.Error(), "exit status 2: bad") {
		t.Fatalf("err = %v", err)
	}
	if _, err := testR.Command(exec.Command("/nonexistent/binary")); err == nil {
		t.Fatal("starting a missing binary succeeded")
	}
}
