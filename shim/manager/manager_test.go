package manager

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/containerd/v2/pkg/shim"
	"github.com/containerd/log"

	"github.com/runxen/runxen/shim/bundle"
)

// The test binary doubles as the long-running shim that Start spawns:
// with MANAGER_TEST_SHIM set it reports what it was given into that file
// and serves the socket on fd 3 until it is killed.
func TestMain(m *testing.M) {
	if out := os.Getenv("MANAGER_TEST_SHIM"); out != "" {
		os.Exit(fakeShim(out))
	}
	os.Exit(m.Run())
}

type report struct {
	Pid   int
	Args  []string
	TTRPC string
	Dir   string
	Pgid  int
}

func fakeShim(out string) int {
	l, err := net.FileListener(os.NewFile(3, "socket"))
	if err != nil {
		return 1
	}
	dir, _ := os.Getwd()
	pgid, _ := syscall.Getpgid(0)
	b, _ := json.Marshal(report{Pid: os.Getpid(), Args: os.Args[1:], TTRPC: os.Getenv("TTRPC_ADDRESS"), Dir: dir, Pgid: pgid})
	if err := os.WriteFile(out+".tmp", b, 0o600); err != nil {
		return 1
	}
	os.Rename(out+".tmp", out)
	for {
		c, err := l.Accept()
		if err != nil {
			return 0
		}
		c.Close()
	}
}

func TestStart(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root: the shim's socket lives under /run/containerd/s")
	}
	bundleDir := t.TempDir()
	out := filepath.Join(t.TempDir(), "report")
	t.Setenv("MANAGER_TEST_SHIM", out)
	t.Chdir(bundleDir)
	ctx := namespaces.WithNamespace(context.Background(), "testns")
	opts := shim.StartOpts{
		Address:      filepath.Join(t.TempDir(), "containerd.sock"),
		TTRPCAddress: "/run/containerd/containerd.sock.ttrpc",
	}
	m := New("io.containerd.xen.v1", nil)
	params, err := m.Start(ctx, "c1", opts)
	if err != nil {
		t.Fatal(err)
	}
	if log.L.Logger.Out != io.Discard {
		t.Error("logging still goes to stderr during start")
	}
	log.L.Logger.SetOutput(os.Stderr)
	var r report
	for i := 0; i < 500; i++ {
		b, err := os.ReadFile(out)
		if err == nil && json.Unmarshal(b, &r) == nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if r.Pid == 0 {
		t.Fatal("the shim never reported")
	}
	defer syscall.Kill(r.Pid, syscall.SIGKILL)
	defer shim.RemoveSocket(params.Address)

	if params.Version != 2 || params.Protocol != "ttrpc" || !strings.HasPrefix(params.Address, "unix://") {
		t.Errorf("reply %+v: want version 2 over ttrpc at a unix address", params)
	}
	b, err := os.ReadFile(filepath.Join(bundleDir, bundle.AddressFile))
	if err != nil || string(b) != params.Address {
		t.Errorf("address file %q, %v; reply %q", b, err, params.Address)
	}
	if r.TTRPC != opts.TTRPCAddress {
		t.Errorf("the shim got TTRPC_ADDRESS %q", r.TTRPC)
	}
	if r.Dir != bundleDir {
		t.Errorf("the shim runs in %s, not the bundle", r.Dir)
	}
	if r.Pgid != r.Pid {
		t.Errorf("the shim is not in its own process group (%d)", r.Pgid)
	}
	want := []string{"-namespace", "testns", "-id", "c1", "-address", opts.Address}
	if strings.Join(r.Args, " ") != strings.Join(want, " ") {
		t.Errorf("args %v, want %v", r.Args, want)
	}
	if !shim.CanConnect(params.Address) {
		t.Error("nobody serves the address")
	}
	// A second start for the same group finds the running shim.
	again, err := m.Start(ctx, "c1", opts)
	if err != nil || again.Address != params.Address {
		t.Errorf("second start: %+v, %v", again, err)
	}
}

func TestStop(t *testing.T) {
	for _, tc := range []struct {
		name     string
		rec      *bundle.Record
		wantErr  bool
		wantPid  int
		wantSeen bundle.Record
	}{
		{
			name:     "recorded",
			rec:      &bundle.Record{Namespace: "moby", ID: "c1", SandboxID: "c1", Domain: "runxen-c1", HolderPid: 77},
			wantPid:  77,
			wantSeen: bundle.Record{Namespace: "moby", ID: "c1", SandboxID: "c1", Domain: "runxen-c1", HolderPid: 77},
		},
		{
			name: "nothing recorded, nothing to clean",
		},
		{
			name:    "another container's record",
			rec:     &bundle.Record{ID: "other"},
			wantErr: true,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if tc.rec != nil {
				if err := bundle.WriteRecord(dir, *tc.rec); err != nil {
					t.Fatal(err)
				}
			}
			var seen *bundle.Record
			m := New("io.containerd.xen.v1", func(ctx context.Context, d string, rec bundle.Record) error {
				if d != dir {
					t.Errorf("clean-up in %s, want %s", d, dir)
				}
				seen = &rec
				return errors.New("logged, not fatal")
			})
			ctx := namespaces.WithNamespace(context.Background(), "testns")
			ctx = context.WithValue(ctx, shim.OptsKey{}, shim.Opts{BundlePath: dir})
			st, err := m.Stop(ctx, "c1")
			if tc.wantErr {
				if err == nil {
					t.Error("no error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if st.ExitStatus != 137 || st.Pid != tc.wantPid || st.ExitedAt.IsZero() {
				t.Errorf("status %+v", st)
			}
			if tc.rec == nil {
				if seen != nil {
					t.Errorf("clean-up ran without a record: %+v", seen)
				}
			} else if seen == nil || !reflect.DeepEqual(*seen, tc.wantSeen) {
				t.Errorf("clean-up saw %+v, want %+v", seen, tc.wantSeen)
			}
			if _, err := os.Stat(filepath.Join(dir, bundle.RecordFile)); !os.IsNotExist(err) {
				t.Errorf("record left: %v", err)
			}
		})
	}
}
