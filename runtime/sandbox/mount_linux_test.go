package sandbox

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/runxen/runxen/runtime/ocispec"
)

// TestIntegrationStageFiles stages real bind mounts (root only): the
// staged file is the host file, both ways; a read-only one refuses
// writes; remove leaves neither mount nor directory, and the host files
// untouched.
func TestIntegrationStageFiles(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to bind-mount (run the tests as root)")
	}
	dir := t.TempDir()
	rw := filepath.Join(dir, "resolv.conf")
	ro := filepath.Join(dir, "app.ini")
	must(t, os.WriteFile(rw, []byte("nameserver 10.0.0.1\n"), 0o644))
	must(t, os.WriteFile(ro, []byte("[app]\n"), 0o644))
	st := &stage{dir: filepath.Join(dir, "state", "moby", "c1"), mounter: hostMounter{}}
	shares := []ocispec.Share{
		{Tag: "files-rw", HostDir: filepath.Join(st.dir, "files-rw"), Files: []ocispec.StagedFile{{Name: "0", Source: rw}}},
		{Tag: "files-ro", HostDir: filepath.Join(st.dir, "files-ro"), ReadOnly: true, Files: []ocispec.StagedFile{{Name: "0", Source: ro}}},
	}
	if err := st.files(shares); err != nil {
		if errors.Is(err, unix.EPERM) {
			t.Skipf("no mount permission here: %v", err)
		}
		t.Fatal(err)
	}
	staged := filepath.Join(st.dir, "files-rw", "0")
	if b, err := os.ReadFile(staged); err != nil || string(b) != "nameserver 10.0.0.1\n" {
		t.Fatalf("staged file reads %q, %v", b, err)
	}
	must(t, os.WriteFile(staged, []byte("nameserver 10.0.0.2\n"), 0o644))
	if b, _ := os.ReadFile(rw); string(b) != "nameserver 10.0.0.2\n" {
		t.Errorf("a write to the staged file did not reach the host file: %q", b)
	}
	if err := os.WriteFile(filepath.Join(st.dir, "files-ro", "0"), []byte("x"), 0o644); !errors.Is(err, unix.EROFS) {
		t.Errorf("write to the read-only staged file: %v; want EROFS", err)
	}
	must(t, st.remove())
	if _, err := os.Stat(st.dir); !os.IsNotExist(err) {
		t.Errorf("staging directory left: %v", err)
	}
	for p, want := range map[string]string{rw: "nameserver 10.0.0.2\n", ro: "[app]\n"} {
		if b, err := os.ReadFile(p); err != nil || string(b) != want {
			t.Errorf("host file %s after remove: %q, %v", p, b, err)
		}
	}
}
