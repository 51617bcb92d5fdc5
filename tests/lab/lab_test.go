package lab

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFailedBootLines(t *testing.T) {
	tests := []struct {
		line string
		want bool
	}{
		{"[    5.1] Kernel panic - not syncing: Fatal exception in interrupt", true},
		{"(XEN) Panic on CPU 0:", true},
		{"KVM internal error. Suberror: 1", true},
		{"RUNXEN_LAB_FAIL: cannot mount the payload disk /dev/vdb", true},
		{"runxen-lab: starting labd", false},
		{"(XEN) Std. Loglevel: All", false},
	}
	for _, tt := range tests {
		if got := failedBoot.MatchString(tt.line); got != tt.want {
			t.Errorf("failedBoot(%q) = %v, want %v", tt.line, got, tt.want)
		}
	}
}

func TestGuestXLConfig(t *testing.T) {
	cfg := GuestConfig{Name: "g1", Kernel: "/k", Ramdisk: "/r", Cmdline: `console=hvc0 x="y"`, MemoryMiB: 128, VCPUs: 2}.xlConfig()
	for _, want := range []string{`name="g1"`, `type="pv"`, `kernel="/k"`, `ramdisk="/r"`, `extra="console=hvc0 x=\"y\""`, "memory=128", "vcpus=2", `on_crash="destroy"`} {
		if !strings.Contains(cfg, want) {
			t.Errorf("xl config lacks %s:\n%s", want, cfg)
		}
	}
}

func TestOptionsDefaults(t *testing.T) {
	t.Setenv("RUNXEN_CACHE", "/tmp/x-cache")
	t.Setenv("RUNXEN_ACCEL", "tcg")
	o, err := Options{RepoDir: "/repo"}.Defaults()
	if err != nil {
		t.Fatal(err)
	}
	if o.CacheDir != "/tmp/x-cache" || o.Accel != "tcg" || o.ArtifactsDir != "/repo/tests/artifacts" || o.BootAttempts != 3 {
		t.Errorf("unexpected defaults: %+v", o)
	}
	t.Setenv("RUNXEN_ACCEL", "hvf")
	if _, err := (Options{RepoDir: "/repo"}).Defaults(); err == nil {
		t.Error("accepted RUNXEN_ACCEL=hvf")
	}
	if _, err := (Options{RepoDir: "/repo", Accel: "tcg", MemoryMiB: 1024, Dom0MiB: 2048}).Defaults(); err == nil {
		t.Error("accepted a dom0 bigger than the machine")
	}
}

func TestUntarStaysInside(t *testing.T) {
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, name := range []string{"xen/guest-a.log", "../../escape.log", "/abs.log"} {
		_ = tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: 2, Typeflag: tar.TypeReg})
		_, _ = tw.Write([]byte("hi"))
	}
	_ = tw.WriteHeader(&tar.Header{Name: "link", Linkname: "/etc/passwd", Typeflag: tar.TypeSymlink})
	tw.Close()
	gz.Close()

	root := t.TempDir()
	dst := filepath.Join(root, "out")
	if err := untar(&buf, dst); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"xen/guest-a.log", "escape.log", "abs.log"} {
		if _, err := os.Stat(filepath.Join(dst, p)); err != nil {
			t.Errorf("%s not extracted inside: %v", p, err)
		}
	}
	if _, err := os.Lstat(filepath.Join(dst, "link")); err == nil {
		t.Error("symlink extracted")
	}
	if _, err := os.Stat(filepath.Join(root, "escape.log")); err == nil {
		t.Error("file escaped the destination")
	}
}
