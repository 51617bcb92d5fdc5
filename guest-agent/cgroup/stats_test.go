package cgroup

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// writeCgroup writes files into a fresh directory that looks like a cgroup.
func writeCgroup(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestReadStats(t *testing.T) {
	dir := writeCgroup(t, map[string]string{
		"cpu.stat":       "usage_usec 3000\nuser_usec 2000\nsystem_usec 1000\nnr_periods 0\nnr_throttled 0\nthrottled_usec 0\n",
		"memory.current": "4194304\n",
		"memory.max":     "67108864\n",
		"memory.peak":    "8388608\n",
		"memory.stat":    "anon 1024\nfile 2048\n",
		"memory.events":  "low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\n",
		"pids.current":   "3\n",
		"pids.max":       "max\n",
		"io.stat":        "202:0 rbytes=10 wbytes=20 rios=1 wios=2 dbytes=0 dios=0\n",
	})
	s, err := ReadStats(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := Stats{
		CPUUsageUsec: 3000, CPUUserUsec: 2000, CPUSystemUsec: 1000,
		MemoryUsage: 4 << 20, MemoryLimit: 64 << 20, MemoryMaxUsage: 8 << 20,
		OOMKills: 1, PidsCurrent: 3, PidsLimit: Max,
		IO: IOTotals{ReadBytes: 10, WriteBytes: 20, ReadOps: 1, WriteOps: 2},
	}
	got := *s
	if got.MemoryStat["anon"] != 1024 || got.MemoryStat["file"] != 2048 {
		t.Errorf("memory.stat %v", got.MemoryStat)
	}
	got.MemoryStat = nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
}

func TestReadStatsMissingFiles(t *testing.T) {
	// Only the core files: no memory, pids or io controller enabled.
	dir := writeCgroup(t, map[string]string{"cpu.stat": "usage_usec 5\n"})
	s, err := ReadStats(dir)
	if err != nil {
		t.Fatal(err)
	}
	if s.CPUUsageUsec != 5 || s.MemoryLimit != 0 || s.MemoryStat != nil {
		t.Errorf("got %+v", s)
	}
	if _, err := ReadStats(filepath.Join(dir, "gone")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing dir: err = %v", err)
	}
}

func TestReadStatsMalformed(t *testing.T) {
	dir := writeCgroup(t, map[string]string{"cpu.stat": "usage_usec 5\n", "memory.max": "lots\n"})
	_, err := ReadStats(dir)
	if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "memory.max") {
		t.Fatalf("err = %v, want ErrMalformed naming memory.max", err)
	}
}

func TestReadStatsTooLarge(t *testing.T) {
	dir := writeCgroup(t, map[string]string{"memory.stat": strings.Repeat("a 1\n", maxFileSize/4+1)})
	if _, err := ReadStats(dir); !errors.Is(err, ErrMalformed) {
		t.Fatalf("err = %v", err)
	}
}

func TestProcs(t *testing.T) {
	dir := writeCgroup(t, map[string]string{"cgroup.procs": "12\n13\n"})
	pids, err := Procs(dir)
	if err != nil || !slices.Equal(pids, []int{12, 13}) {
		t.Fatalf("Procs = %v, %v", pids, err)
	}
	if _, err := Procs(t.TempDir()); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("err = %v", err)
	}
}
