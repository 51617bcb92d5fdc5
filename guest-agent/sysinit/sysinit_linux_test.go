//go:build linux

package sysinit

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestExitStatus(t *testing.T) {
	tests := []struct {
		ws   unix.WaitStatus
		want int
	}{
		{0, 0},
		{3 << 8, 3},
		{unix.WaitStatus(unix.SIGKILL), 128 + 9},
		{unix.WaitStatus(unix.SIGTERM), 128 + 15},
	}
	for _, tt := range tests {
		if got := exitStatus(tt.ws); got != tt.want {
			t.Errorf("exitStatus(%#x) = %d, want %d", uint32(tt.ws), got, tt.want)
		}
	}
}

func TestReapChildren(t *testing.T) {
	cmd := exec.Command("sh", "-c", "exit 7")
	if err := cmd.Start(); err != nil {
		t.Skipf("cannot start a child: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		exited, err := ReapChildren()
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range exited {
			if e.PID == cmd.Process.Pid {
				if e.Status != 7 {
					t.Errorf("status %d, want 7", e.Status)
				}
				return
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("child never reaped")
}

// TestLoadModulesErrors covers what can be checked without loading anything
// into the running kernel.
func TestLoadModulesErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name    string
		list    string
		wantN   int
		wantErr string
	}{
		{"missing list", filepath.Join(dir, "nope"), 0, "read module list"},
		{"empty list", write("empty", "# nothing\n"), 0, ""},
		{"missing module", write("missing", "/nonexistent/lib/modules/v/kernel/fs/9p/9p.ko\n"), 0, "load module /nonexistent/lib/modules/v/kernel/fs/9p/9p.ko"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := LoadModules(tt.list)
			if n != tt.wantN {
				t.Errorf("n = %d, want %d", n, tt.wantN)
			}
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("err = %v, want %q", err, tt.wantErr)
			}
		})
	}
}
