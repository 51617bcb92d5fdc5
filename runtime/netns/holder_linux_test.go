package netns

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/containerd/errdefs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func netSpec(path string) *specs.Spec {
	return specWith(specs.LinuxNamespace{Type: specs.PIDNamespace}, specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: path})
}

// TestHolder starts a holder in each mode and checks what containerd,
// Docker and the hooks will see through /proc/<pid>/ns/net, then that
// Close leaves no process, mount, file or descriptor.
func TestHolder(t *testing.T) {
	needAdmin(t)
	self := nsOf(t, "/proc/self/ns/net")
	pinned := pinnedNetNS(t)

	// One holder first, so that what the runtime opens once (the
	// forker's thread, the poller) is not counted as a leak.
	warm, err := NewHolder(ctxT(t), "warm-up", nil)
	if err != nil {
		t.Fatal(err)
	}
	warm.Close()

	for _, tc := range []struct {
		name     string
		spec     *specs.Spec
		mode     Mode
		wantNS   func(pid int) nsID
		wantPath func(pid int) string
	}{
		{
			name:     "create",
			spec:     netSpec(""),
			mode:     ModeCreate,
			wantPath: func(pid int) string { return fmt.Sprintf("/proc/%d/ns/net", pid) },
		},
		{
			name:     "join",
			spec:     netSpec(pinned),
			mode:     ModeJoin,
			wantNS:   func(int) nsID { return nsOf(t, pinned) },
			wantPath: func(int) string { return pinned },
		},
		{
			name:     "host",
			spec:     specWith(specs.LinuxNamespace{Type: specs.MountNamespace}),
			mode:     ModeHost,
			wantNS:   func(int) nsID { return self },
			wantPath: func(int) string { return "" },
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := "holder-" + tc.name
			fds, mounts := openFDs(t), nsfsMounts(t)
			h, err := NewHolder(ctxT(t), id, tc.spec)
			if err != nil {
				t.Fatalf("NewHolder: %v", err)
			}
			pid := h.Pid()
			got := nsOf(t, fmt.Sprintf("/proc/%d/ns/net", pid))
			if tc.wantNS != nil {
				if want := tc.wantNS(pid); got != want {
					t.Errorf("/proc/%d/ns/net is %v, want %v", pid, got, want)
				}
			} else if got == self {
				t.Errorf("/proc/%d/ns/net is the host's namespace", pid)
			}
			if h.Mode() != tc.mode {
				t.Errorf("Mode = %v, want %v", h.Mode(), tc.mode)
			}
			if p := h.NetNSPath(); p != tc.wantPath(pid) {
				t.Errorf("NetNSPath = %q, want %q", p, tc.wantPath(pid))
			} else if p != "" && nsOf(t, p) != got {
				t.Errorf("NetNSPath %s is not the holder's namespace", p)
			}
			if pids := holderPids(t, id); len(pids) != 1 || pids[0] != pid {
				t.Errorf("holders for %s: %v, want [%d]", id, pids, pid)
			}
			comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
			if strings.TrimSpace(string(comm)) != holderComm {
				t.Errorf("holder's comm = %q, want %q", comm, holderComm)
			}
			if h.Err() != nil {
				t.Errorf("Err before Close = %v", h.Err())
			}

			if err := h.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			if err := h.Close(); err != nil {
				t.Fatalf("second Close: %v", err)
			}
			select {
			case <-h.Done():
			default:
				t.Error("Done not closed after Close")
			}
			if alive(pid) {
				t.Errorf("holder %d still exists after Close", pid)
			}
			noHolders(t, id)
			if n := openFDs(t); n != fds {
				t.Errorf("%d open descriptors after Close, %d before NewHolder", n, fds)
			}
			after := nsfsMounts(t)
			for m := range after {
				if !mounts[m] {
					t.Errorf("namespace mount left behind: %s", m)
				}
			}
			if _, err := os.Stat(filepath.Join("/run/runxen/netns", id)); !os.IsNotExist(err) {
				t.Errorf("a file for %s under /run/runxen/netns: %v", id, err)
			}
			if tc.mode == ModeJoin {
				// The namespace belonged to someone else and lives on.
				if nsOf(t, pinned) != got {
					t.Error("the joined namespace changed identity after Close")
				}
			}
		})
	}
}

// TestHolderBadInput: every refusal names what is wrong and leaves no
// process behind.
func TestHolderBadInput(t *testing.T) {
	needAdmin(t)
	dir := t.TempDir()
	regular := filepath.Join(dir, "regular")
	if err := os.WriteFile(regular, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		id     string
		spec   *specs.Spec
		is     error
		substr string
	}{
		{"relative path", "bad-rel", netSpec("run/netns/x"), errdefs.ErrInvalidArgument, `linux.namespaces[1].path "run/netns/x"`},
		{"missing file", "bad-missing", netSpec(filepath.Join(dir, "nope")), errdefs.ErrNotFound, filepath.Join(dir, "nope")},
		{"regular file", "bad-regular", netSpec(regular), errdefs.ErrInvalidArgument, regular + ": not a namespace file"},
		{"other namespace type", "bad-uts", netSpec("/proc/self/ns/uts"), errdefs.ErrInvalidArgument, "/proc/self/ns/uts: a namespace of another type"},
		{"duplicate entry", "bad-dup", specWith(
			specs.LinuxNamespace{Type: specs.NetworkNamespace},
			specs.LinuxNamespace{Type: specs.NetworkNamespace}), errdefs.ErrInvalidArgument, "a second network namespace entry"},
		{"empty id", "", netSpec(""), errdefs.ErrInvalidArgument, "holder id"},
		{"control characters in id", "a\nb", netSpec(""), errdefs.ErrInvalidArgument, "control characters"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, err := NewHolder(ctxT(t), tc.id, tc.spec)
			if err == nil {
				h.Close()
				t.Fatal("NewHolder succeeded")
			}
			if !errors.Is(err, tc.is) || !strings.Contains(err.Error(), tc.substr) {
				t.Errorf("NewHolder: %v; want %v naming %q", err, tc.is, tc.substr)
			}
			if tc.id != "" {
				noHolders(t, tc.id)
			}
		})
	}
}

// A canceled context either wins the race with the holder's start or
// loses it; either way nothing is left once the holder is closed.
func TestHolderCanceled(t *testing.T) {
	needAdmin(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	h, err := NewHolder(ctx, "canceled", netSpec(""))
	if err == nil {
		h.Close()
	} else if !errors.Is(err, context.Canceled) {
		t.Errorf("NewHolder with a canceled context: %v, want context.Canceled", err)
	}
	noHolders(t, "canceled")
}

// The parent-death signal belongs to the thread that forked: a holder
// started from a goroutine whose thread then ends must live on.
func TestHolderOutlivesStartingThread(t *testing.T) {
	needAdmin(t)
	got := make(chan *Holder, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with this goroutine
		h, err := NewHolder(context.Background(), "thread-exit", netSpec(""))
		if err != nil {
			t.Error(err)
		}
		got <- h
	}()
	h := <-got
	if h == nil {
		return
	}
	defer h.Close()
	select {
	case <-h.Done():
		t.Fatalf("holder died when the thread that asked for it ended: %v", h.Err())
	case <-time.After(500 * time.Millisecond):
	}
}

// Someone on the host kills the holder: Done says so, Err says how, and
// Close still succeeds.
func TestHolderKilledFromOutside(t *testing.T) {
	needAdmin(t)
	h, err := NewHolder(ctxT(t), "killed", netSpec(""))
	if err != nil {
		t.Fatal(err)
	}
	p, err := os.FindProcess(h.Pid())
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Kill(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-h.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("Done not closed after the holder was killed")
	}
	if err := h.Err(); err == nil || !strings.Contains(err.Error(), "killed") {
		t.Errorf("Err = %v, want one saying the holder was killed", err)
	}
	if err := h.Close(); err != nil {
		t.Errorf("Close after death: %v", err)
	}
	noHolders(t, "killed")
}

func TestHolderConcurrentClose(t *testing.T) {
	needAdmin(t)
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h, err := NewHolder(ctxT(t), fmt.Sprintf("concurrent-%d", i), netSpec(""))
			if err != nil {
				t.Error(err)
				return
			}
			var cwg sync.WaitGroup
			for range 3 {
				cwg.Add(1)
				go func() { defer cwg.Done(); h.Close() }()
			}
			cwg.Wait()
			noHolders(t, fmt.Sprintf("concurrent-%d", i))
		}()
	}
	wg.Wait()
}

// TestHolderCost logs what one holder costs in host memory, the figure
// the shim's per-container overhead includes.
func TestHolderCost(t *testing.T) {
	needAdmin(t)
	h, err := NewHolder(ctxT(t), "cost", netSpec(""))
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", h.Pid()))
	if err != nil {
		t.Skipf("no smaps_rollup: %v", err)
	}
	var rss, pss, private, anon string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		switch f[0] {
		case "Rss:":
			rss = f[1]
		case "Pss:":
			pss = f[1]
		case "Private_Dirty:":
			private = f[1]
		case "Anonymous:":
			anon = f[1]
		}
	}
	if rss == "" || pss == "" {
		t.Fatalf("smaps_rollup without Rss or Pss:\n%s", b)
	}
	t.Logf("holder %d: Rss %s kB, Pss %s kB, Private_Dirty %s kB, Anonymous %s kB", h.Pid(), rss, pss, private, anon)
}
