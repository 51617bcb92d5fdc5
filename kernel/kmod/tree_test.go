package kmod

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/runxen/runxen/kernel/kmod/kmodtest"
)

// syntheticTree mimics the part of a Debian kernel's module tree the guest
// uses, with mixed compressions and a built-in module.
func syntheticTree(t *testing.T) string {
	dir := t.TempDir()
	kmodtest.WriteTree(t, dir, []kmodtest.Spec{
		{Path: "kernel/fs/netfs/netfs.ko.xz"},
		{Path: "kernel/net/9p/9pnet.ko.xz", Depends: []string{"netfs"}},
		{Path: "kernel/net/9p/9pnet_xen.ko.zst", Depends: []string{"9pnet"}},
		{Path: "kernel/fs/9p/9p.ko.gz", Depends: []string{"9pnet", "netfs"}},
		{Path: "kernel/drivers/block/xen-blkfront.ko"},
		{Path: "kernel/lib/libcrc32c.ko.xz"},
		{Path: "kernel/fs/erofs/erofs.ko.xz", Depends: []string{"libcrc32c"}},
		{Path: "kernel/fs/ext4/ext4.ko.xz", Depends: []string{"jbd2", "crc16", "mbcache"}},
		{Path: "kernel/fs/jbd2/jbd2.ko.xz"},
		{Path: "kernel/fs/mbcache.ko.xz"},
		{Path: "kernel/lib/crc16.ko.xz"},
		{Path: "updates/crc16.ko.xz"},
	})
	kmodtest.WriteFile(t, dir, "modules.builtin", []byte("kernel/drivers/xen/xen-evtchn.ko\n"))
	if err := os.Symlink("/nonexistent/build", filepath.Join(dir, "build")); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestGenerateDep(t *testing.T) {
	dir := syntheticTree(t)
	if err := GenerateDep(context.Background(), dir); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dir, "modules.dep"))
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Join([]string{
		"kernel/drivers/block/xen-blkfront.ko:",
		"kernel/fs/9p/9p.ko.gz: kernel/net/9p/9pnet.ko.xz kernel/fs/netfs/netfs.ko.xz",
		"kernel/fs/erofs/erofs.ko.xz: kernel/lib/libcrc32c.ko.xz",
		"kernel/fs/ext4/ext4.ko.xz: kernel/fs/mbcache.ko.xz updates/crc16.ko.xz kernel/fs/jbd2/jbd2.ko.xz",
		"kernel/fs/jbd2/jbd2.ko.xz:",
		"kernel/fs/mbcache.ko.xz:",
		"kernel/fs/netfs/netfs.ko.xz:",
		"kernel/lib/libcrc32c.ko.xz:",
		"kernel/net/9p/9pnet.ko.xz: kernel/fs/netfs/netfs.ko.xz",
		"kernel/net/9p/9pnet_xen.ko.zst: kernel/net/9p/9pnet.ko.xz kernel/fs/netfs/netfs.ko.xz",
		"updates/crc16.ko.xz:",
	}, "\n") + "\n"
	if string(got) != want {
		t.Errorf("modules.dep:\n%s\nwant:\n%s", got, want)
	}
}

func TestGenerateDepCorruptModule(t *testing.T) {
	dir := t.TempDir()
	kmodtest.WriteFile(t, dir, "kernel/bad.ko.xz", []byte("garbage"))
	if err := GenerateDep(context.Background(), dir); err == nil {
		t.Fatal("want an error for a corrupt module")
	}
	if _, err := os.Stat(filepath.Join(dir, "modules.dep")); !os.IsNotExist(err) {
		t.Errorf("failed run left modules.dep behind: %v", err)
	}
}

func TestResolve(t *testing.T) {
	dir := syntheticTree(t)
	if err := GenerateDep(context.Background(), dir); err != nil {
		t.Fatal(err)
	}
	tree, err := LoadTree(dir)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name        string
		req         []string
		wantLoad    []string
		wantBuiltin []string
		wantErr     string
	}{
		{
			name:     "dependencies first, each once",
			req:      []string{"9pnet_xen", "9p", "xen_blkfront"},
			wantLoad: []string{"netfs", "9pnet", "9pnet_xen", "9p", "xen_blkfront"},
		},
		{
			name:        "dash and underscore are one name, builtins skipped",
			req:         []string{"xen-evtchn", "xen_blkfront", "xen-blkfront"},
			wantLoad:    []string{"xen_blkfront"},
			wantBuiltin: []string{"xen_evtchn"},
		},
		{
			name:     "updates override",
			req:      []string{"ext4"},
			wantLoad: []string{"jbd2", "crc16", "mbcache", "ext4"},
		},
		{name: "unknown", req: []string{"ext4", "nosuchmod"}, wantErr: `unknown module "nosuchmod"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			load, builtin, err := tree.Resolve(tt.req)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, m := range load {
				names = append(names, m.Name)
				if _, err := os.Stat(filepath.Join(dir, m.Path)); err != nil {
					t.Errorf("module %s: %v", m.Name, err)
				}
			}
			if !reflect.DeepEqual(names, tt.wantLoad) || !reflect.DeepEqual(builtin, tt.wantBuiltin) {
				t.Errorf("load %q builtin %q; want %q %q", names, builtin, tt.wantLoad, tt.wantBuiltin)
			}
		})
	}
}

func TestLoadTreeErrors(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
	}{
		{"no modules.dep", map[string]string{}},
		{"bad modules.dep", map[string]string{"modules.dep": "x\n"}},
		{"bad modules.builtin", map[string]string{"modules.dep": "", "modules.builtin": "x\n"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for n, c := range tt.files {
				kmodtest.WriteFile(t, dir, n, []byte(c))
			}
			if _, err := LoadTree(dir); err == nil {
				t.Fatal("want an error")
			}
		})
	}
}

func TestResolveDanglingDependency(t *testing.T) {
	dir := t.TempDir()
	kmodtest.WriteFile(t, dir, "modules.dep", []byte("kernel/a.ko: kernel/b.ko\n"))
	tree, err := LoadTree(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := tree.Resolve([]string{"a"}); err == nil || !strings.Contains(err.Error(), `"b"`) {
		t.Fatalf("err = %v, want one naming b", err)
	}
}
