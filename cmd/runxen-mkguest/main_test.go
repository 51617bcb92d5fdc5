package main

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/runxen/runxen/kernel/initramfs"
	"github.com/runxen/runxen/kernel/kmod/kmodtest"
)

const testVersion = "6.12.99+deb13-amd64"

func run(t *testing.T, args ...string) error {
	t.Helper()
	return newApp().Run(append([]string{"runxen-mkguest"}, args...))
}

// fakeKernel writes a vmlinuz and a module tree without modules.dep, as a
// kernel unpacked from a package looks.
func fakeKernel(t *testing.T) (vmlinuz, modules string) {
	dir := t.TempDir()
	vmlinuz = filepath.Join(dir, "boot", "vmlinuz-"+testVersion)
	kmodtest.WriteFile(t, dir, "boot/vmlinuz-"+testVersion, []byte("bzImage"))
	modules = filepath.Join(dir, "lib/modules", testVersion)
	kmodtest.WriteTree(t, modules, []kmodtest.Spec{
		{Path: "kernel/fs/netfs/netfs.ko.xz"},
		{Path: "kernel/net/9p/9pnet.ko.xz", Depends: []string{"netfs"}},
		{Path: "kernel/fs/overlayfs/overlay.ko.xz"},
	})
	kmodtest.WriteFile(t, modules, "modules.builtin", []byte("kernel/drivers/xen/xen-evtchn.ko\n"))
	if err := os.Symlink("/usr/src/linux-headers-"+testVersion, filepath.Join(modules, "build")); err != nil {
		t.Fatal(err)
	}
	return vmlinuz, modules
}

func TestKernelFromEnvironment(t *testing.T) {
	vmlinuz, modules := fakeKernel(t)
	t.Setenv(envKernel, vmlinuz)
	t.Setenv(envModules, modules+"/")
	out := filepath.Join(t.TempDir(), "guest")
	if err := run(t, "kernel", "--cache", t.TempDir(), "--out", out); err != nil {
		t.Fatal(err)
	}
	if v, _ := os.ReadFile(filepath.Join(out, "kernel.version")); string(v) != testVersion+"\n" {
		t.Errorf("kernel.version = %q", v)
	}
	if k, _ := os.ReadFile(filepath.Join(out, "vmlinuz")); string(k) != "bzImage" {
		t.Errorf("vmlinuz = %q", k)
	}
	dep, err := os.ReadFile(filepath.Join(out, "modules", testVersion, "modules.dep"))
	if err != nil || !strings.Contains(string(dep), "kernel/net/9p/9pnet.ko.xz: kernel/fs/netfs/netfs.ko.xz") {
		t.Errorf("modules.dep not generated: %q, %v", dep, err)
	}
	if _, err := os.Stat(filepath.Join(modules, "modules.dep")); !os.IsNotExist(err) {
		t.Error("the source module tree was modified")
	}
	if link, err := os.Readlink(filepath.Join(out, "modules", testVersion, "build")); err != nil || !strings.HasPrefix(link, "/usr/src/") {
		t.Errorf("build link not copied as a link: %q, %v", link, err)
	}
	if fi, err := os.Stat(filepath.Join(out, "modules")); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("modules directory mode: %v, %v", fi.Mode(), err)
	}

	// A second run with the same kernel leaves the output alone.
	old := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := os.Chtimes(filepath.Join(out, "vmlinuz"), old, old); err != nil {
		t.Fatal(err)
	}
	if err := run(t, "kernel", "--cache", t.TempDir(), "--out", out); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(filepath.Join(out, "vmlinuz")); !fi.ModTime().Equal(old) {
		t.Error("up-to-date vmlinuz was rewritten")
	}

	// A changed kernel is installed again.
	kmodtest.WriteFile(t, filepath.Dir(vmlinuz), filepath.Base(vmlinuz), []byte("bzImage v2"))
	if err := run(t, "kernel", "--cache", t.TempDir(), "--out", out); err != nil {
		t.Fatal(err)
	}
	if k, _ := os.ReadFile(filepath.Join(out, "vmlinuz")); string(k) != "bzImage v2" {
		t.Errorf("vmlinuz = %q after the kernel changed", k)
	}
	if left, _ := filepath.Glob(filepath.Join(out, ".*")); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

func TestKernelEnvironmentErrors(t *testing.T) {
	vmlinuz, modules := fakeKernel(t)
	tests := []struct {
		name            string
		kernel, modules string
		want            string
	}{
		{"only kernel", vmlinuz, "", "set both"},
		{"only modules", "", modules, "set both"},
		{"missing modules", vmlinuz, filepath.Join(t.TempDir(), "nope"), "not a directory"},
		{"missing vmlinuz", filepath.Join(t.TempDir(), "nope"), modules, "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(envKernel, tt.kernel)
			t.Setenv(envModules, tt.modules)
			err := run(t, "kernel", "--cache", t.TempDir(), "--out", t.TempDir())
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestInitramfsCommand(t *testing.T) {
	vmlinuz, modules := fakeKernel(t)
	t.Setenv(envKernel, vmlinuz)
	t.Setenv(envModules, modules)
	guest := t.TempDir()
	if err := run(t, "kernel", "--cache", t.TempDir(), "--out", guest); err != nil {
		t.Fatal(err)
	}
	inputs := t.TempDir()
	kmodtest.WriteFile(t, inputs, "init", []byte("init"))
	kmodtest.WriteFile(t, inputs, "a,b.conf", []byte("x"))
	build := func(out string) []byte {
		t.Helper()
		err := run(t, "initramfs",
			"--init", filepath.Join(inputs, "init"),
			"--modules-dir", filepath.Join(guest, "modules"),
			"--modules", "9pnet, overlay,xen-evtchn",
			"--file", filepath.Join(inputs, "a,b.conf")+":/etc/a,b.conf:0600",
			"--out", out)
		if err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	first := build(filepath.Join(t.TempDir(), "initramfs.gz"))
	if !bytes.Equal(first, build(filepath.Join(t.TempDir(), "initramfs.gz"))) {
		t.Error("two builds differ")
	}
	var want bytes.Buffer
	err := initramfs.Build(&want, initramfs.Spec{
		Init:          filepath.Join(inputs, "init"),
		KernelVersion: testVersion,
		ModulesDir:    filepath.Join(guest, "modules", testVersion),
		Modules:       []string{"9pnet", "overlay", "xen-evtchn"},
		Files:         []initramfs.File{{Src: filepath.Join(inputs, "a,b.conf"), Dst: "/etc/a,b.conf", Mode: 0o600}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first, want.Bytes()) {
		t.Error("the command built something other than the library does for the same spec")
	}

	err = run(t, "initramfs", "--init", filepath.Join(inputs, "init"), "--modules-dir", filepath.Join(guest, "modules"), "--modules", "nosuch", "--out", filepath.Join(t.TempDir(), "x"))
	if err == nil || !strings.Contains(err.Error(), `unknown module "nosuch"`) {
		t.Errorf("err = %v, want an unknown module error", err)
	}
}

func TestParseFileFlag(t *testing.T) {
	tests := []struct {
		in      string
		want    initramfs.File
		wantErr bool
	}{
		{"a:/b", initramfs.File{Src: "a", Dst: "/b"}, false},
		{"a:/b:755", initramfs.File{Src: "a", Dst: "/b", Mode: 0o755}, false},
		{"a:/b:4755", initramfs.File{Src: "a", Dst: "/b", Mode: os.ModeSetuid | 0o755}, false},
		{"a:/b:1777", initramfs.File{Src: "a", Dst: "/b", Mode: os.ModeSticky | 0o777}, false},
		{"a:/b:2750", initramfs.File{Src: "a", Dst: "/b", Mode: os.ModeSetgid | 0o750}, false},
		{"a", initramfs.File{}, true},
		{":/b", initramfs.File{}, true},
		{"a:", initramfs.File{}, true},
		{"a:/b:9", initramfs.File{}, true},
		{"a:/b:17777", initramfs.File{}, true},
		{"a:/b:755:x", initramfs.File{}, true},
	}
	for _, tt := range tests {
		got, err := parseFileFlag(tt.in)
		if (err != nil) != tt.wantErr || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("parseFileFlag(%q) = %+v, %v", tt.in, got, err)
		}
	}
}

func TestVersionDir(t *testing.T) {
	root := t.TempDir()
	kmodtest.WriteFile(t, root, "one/6.1/modules.dep", nil)
	kmodtest.WriteFile(t, root, "one/stray.txt", nil)
	kmodtest.WriteFile(t, root, "two/6.1/modules.dep", nil)
	kmodtest.WriteFile(t, root, "two/6.2/modules.dep", nil)
	tests := []struct {
		dir     string
		want    string
		wantErr bool
	}{
		{"one/6.1", "one/6.1", false},
		{"one", "one/6.1", false},
		{"two", "", true},
		{"missing", "", true},
	}
	for _, tt := range tests {
		got, err := versionDir(filepath.Join(root, tt.dir))
		if (err != nil) != tt.wantErr || (!tt.wantErr && got != filepath.Join(root, tt.want)) {
			t.Errorf("versionDir(%q) = %q, %v", tt.dir, got, err)
		}
	}
}
