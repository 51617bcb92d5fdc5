package bundle

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestParseSpec(t *testing.T) {
	for _, tc := range []struct {
		name string
		spec string
		want error // nil: accepted
		in   string
	}{
		{"minimal", `{"process":{"args":["sh"],"cwd":"/"},"root":{"path":"rootfs"}}`, nil, ""},
		{"not json", `{`, errdefs.ErrInvalidArgument, "parse config.json"},
		{"no process", `{"root":{"path":"rootfs"}}`, errdefs.ErrInvalidArgument, "no process"},
		{"no root", `{"process":{"args":["sh"]}}`, errdefs.ErrInvalidArgument, "root.path"},
		{"empty root", `{"process":{"args":["sh"]},"root":{"path":""}}`, errdefs.ErrInvalidArgument, "root.path"},
		{"createContainer hook", `{"process":{"args":["sh"]},"root":{"path":"r"},"hooks":{"createContainer":[{"path":"/x"}]}}`, errdefs.ErrNotImplemented, "createContainer"},
		{"startContainer hook", `{"process":{"args":["sh"]},"root":{"path":"r"},"hooks":{"startContainer":[{"path":"/x"}]}}`, errdefs.ErrNotImplemented, "startContainer"},
		{"relative hook path", `{"process":{"args":["sh"]},"root":{"path":"r"},"hooks":{"prestart":[{"path":"x"}]}}`, errdefs.ErrInvalidArgument, "hooks.prestart[0].path"},
		{"host hooks", `{"process":{"args":["sh"]},"root":{"path":"r"},"hooks":{"prestart":[{"path":"/a"}],"poststop":[{"path":"/b"}]}}`, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := ParseSpec([]byte(tc.spec))
			if tc.want == nil {
				if err != nil || s == nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.in) {
				t.Errorf("err %v, want %v naming %q", err, tc.want, tc.in)
			}
		})
	}
}

func TestReadSpec(t *testing.T) {
	dir := t.TempDir()
	if _, err := ReadSpec(dir); !errdefs.IsNotFound(err) {
		t.Errorf("missing spec: %v", err)
	}
	data, _ := json.Marshal(&specs.Spec{Process: &specs.Process{Args: []string{"true"}}, Root: &specs.Root{Path: "/abs"}})
	if err := os.WriteFile(filepath.Join(dir, SpecFile), data, 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := ReadSpec(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := RootfsDir(dir, s); got != "/abs" {
		t.Errorf("absolute root: %q", got)
	}
	s.Root.Path = "rootfs"
	if got := RootfsDir(dir, s); got != filepath.Join(dir, "rootfs") || got != MountDir(dir) {
		t.Errorf("relative root: %q", got)
	}
	big := make([]byte, MaxSpecSize+1)
	if err := os.WriteFile(filepath.Join(dir, SpecFile), big, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadSpec(dir); !errdefs.IsInvalidArgument(err) {
		t.Errorf("oversized spec: %v", err)
	}
}

func TestRecord(t *testing.T) {
	dir := t.TempDir()
	if _, err := ReadRecord(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("no record: %v", err)
	}
	want := Record{Namespace: "moby", ID: "c1", SandboxID: "c1", Domain: "runxen-moby-c1", HolderPid: 12, Mounted: dir + "/rootfs", ConfigPath: "/etc/runxen/other.toml"}
	if err := WriteRecord(dir, want); err != nil {
		t.Fatal(err)
	}
	got, err := ReadRecord(dir)
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("read %+v, %v; want %+v", got, err, want)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("temporary files left: %v", entries)
	}
	if err := RemoveRecord(dir); err != nil {
		t.Fatal(err)
	}
	if err := RemoveRecord(dir); err != nil {
		t.Errorf("second remove: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, RecordFile), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadRecord(dir); err == nil {
		t.Error("a broken record was read")
	}
}

func TestWriteAddress(t *testing.T) {
	dir := t.TempDir()
	if err := WriteAddress(dir, "unix:///run/containerd/s/abc"); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, AddressFile))
	if err != nil || string(b) != "unix:///run/containerd/s/abc" {
		t.Errorf("address file %q, %v", b, err)
	}
	for _, bad := range []string{"", "unix:///a\n", "a\x00b"} {
		if err := WriteAddress(dir, bad); err == nil {
			t.Errorf("address %q accepted", bad)
		}
	}
}

// FuzzParseSpec: any config.json is accepted with a process and a root,
// or refused with an errdefs class; never a panic.
func FuzzParseSpec(f *testing.F) {
	f.Add([]byte(`{"process":{"args":["sh"]},"root":{"path":"rootfs"},"hooks":{"prestart":[{"path":"/a","timeout":0}]}}`))
	f.Add([]byte(`{"process":null}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParseSpec(b)
		if err != nil {
			if !errdefs.IsInvalidArgument(err) && !errdefs.IsNotImplemented(err) {
				t.Fatalf("unclassified error: %v", err)
			}
			return
		}
		if s.Process == nil || s.Root == nil || s.Root.Path == "" {
			t.Fatalf("accepted without a process or root: %s", b)
		}
	})
}
