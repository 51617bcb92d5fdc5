package main

import (
	"bytes"
	"context"
	"debug/elf"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/runxen/runxen/internal/debian/apt"
	"github.com/runxen/runxen/kernel/agentimage"
	"github.com/runxen/runxen/kernel/kmod/kmodtest"
)

// staticELF is a header debug/elf reads as a static x86-64 executable.
func staticELF(tag string) []byte {
	h := make([]byte, 64)
	copy(h, "\x7fELF\x02\x01\x01")
	le := binary.LittleEndian
	le.PutUint16(h[16:], uint16(elf.ET_EXEC))
	le.PutUint16(h[18:], uint16(elf.EM_X86_64))
	le.PutUint32(h[20:], 1)
	le.PutUint16(h[52:], 64)
	le.PutUint16(h[54:], 56)
	le.PutUint16(h[58:], 64)
	return append(h, tag...)
}

// fakeDebian stands in for apt-config, apt-get, dpkg-deb and busybox.
type fakeDebian struct {
	t     *testing.T
	mu    sync.Mutex
	calls []string
}

func (f *fakeDebian) Run(_ context.Context, c apt.Cmd) ([]byte, error) {
	f.mu.Lock()
	f.calls = append(f.calls, filepath.Base(c.Name)+" "+strings.Join(c.Args, " "))
	f.mu.Unlock()
	switch {
	case c.Name == "apt-config":
		return nil, nil
	case c.Name == "apt-get" && slices.Contains(c.Args, "update"):
		return nil, nil
	case c.Name == "apt-get" && slices.Contains(c.Args, "download"):
		for _, p := range c.Args[slices.Index(c.Args, "download")+1:] {
			if err := os.WriteFile(filepath.Join(c.Dir, p+"_1.0-1_amd64.deb"), []byte(p), 0o644); err != nil {
				return nil, err
			}
		}
		return nil, nil
	case c.Name == "dpkg-deb":
		name, _, _ := strings.Cut(filepath.Base(c.Args[1]), "_")
		files := map[string]string{
			"runc":           "usr/sbin/runc",
			"busybox-static": "usr/bin/busybox",
			"xen-utils-4.20": strings.TrimPrefix(agentimage.VchanSocketProxy, "/"),
		}
		if p, ok := files[name]; ok {
			kmodtest.WriteFile(f.t, c.Args[2], p, staticELF(name))
		} else {
			kmodtest.WriteFile(f.t, c.Args[2], "usr/share/doc/"+name+"/copyright", []byte(name))
		}
		return nil, nil
	case filepath.Base(c.Name) == "busybox" && c.Args[0] == "--list-full":
		return []byte("bin/sh\nusr/bin/env\n"), nil
	}
	return nil, fmt.Errorf("unexpected command %s", c)
}

func (f *fakeDebian) commands() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

func useFakeDebian(t *testing.T) *fakeDebian {
	f := &fakeDebian{t: t}
	keyring := filepath.Join(t.TempDir(), "keyring.gpg")
	kmodtest.WriteFile(t, filepath.Dir(keyring), filepath.Base(keyring), []byte("key"))
	fetchRunner, busyboxRunner, fetchKeyring = f, f, keyring
	t.Cleanup(func() { fetchRunner, busyboxRunner, fetchKeyring = nil, nil, "" })
	return f
}

// guestKernel runs the kernel command on a fake kernel with the given
// build configuration ("" for none) and returns its output directory.
func guestKernel(t *testing.T, config string) string {
	vmlinuz, modules := fakeKernel(t)
	if config != "" {
		kmodtest.WriteFile(t, filepath.Dir(vmlinuz), "config-"+testVersion, []byte(config))
	}
	t.Setenv(envKernel, vmlinuz)
	t.Setenv(envModules, modules)
	out := t.TempDir()
	if err := run(t, "kernel", "--cache", t.TempDir(), "--out", out); err != nil {
		t.Fatal(err)
	}
	return out
}

const zstdConfig = "CONFIG_BLK_DEV_INITRD=y\nCONFIG_RD_GZIP=y\nCONFIG_RD_ZSTD=y\n"

func TestKernelCopiesConfig(t *testing.T) {
	vmlinuz, modules := fakeKernel(t)
	kmodtest.WriteFile(t, filepath.Dir(vmlinuz), "config-"+testVersion, []byte(zstdConfig))
	t.Setenv(envKernel, vmlinuz)
	t.Setenv(envModules, modules)
	out := t.TempDir()
	if err := run(t, "kernel", "--cache", t.TempDir(), "--out", out); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(out, "config")); string(got) != zstdConfig {
		t.Errorf("config = %q", got)
	}
	// The same kernel without a configuration: the stale copy goes.
	if err := os.Remove(filepath.Join(filepath.Dir(vmlinuz), "config-"+testVersion)); err != nil {
		t.Fatal(err)
	}
	if err := run(t, "kernel", "--cache", t.TempDir(), "--out", out); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(out, "config")); !os.IsNotExist(err) {
		t.Errorf("stale config kept: %v", err)
	}
}

// unpack decompresses an image and returns its cpio bytes and compression.
func unpack(t *testing.T, data []byte) ([]byte, string) {
	t.Helper()
	switch {
	case bytes.HasPrefix(data, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		d, err := zstd.NewReader(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		raw, err := io.ReadAll(d)
		if err != nil {
			t.Fatal(err)
		}
		return raw, "zstd"
	case bytes.HasPrefix(data, []byte{0x1f, 0x8b}):
		z, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		raw, err := io.ReadAll(z)
		if err != nil {
			t.Fatal(err)
		}
		return raw, "gzip"
	}
	t.Fatalf("unknown compression %x", data[:4])
	return nil, ""
}

func TestAgentInitramfsCommand(t *testing.T) {
	fake := useFakeDebian(t)
	guest := guestKernel(t, zstdConfig)
	cache := t.TempDir()
	inputs := t.TempDir()
	kmodtest.WriteFile(t, inputs, "runxen-agent", staticELF("agent"))
	kmodtest.WriteFile(t, inputs, "helper", staticELF("helper"))
	build := func(extra ...string) []byte {
		t.Helper()
		out := filepath.Join(t.TempDir(), "agent.initramfs")
		args := append([]string{"agent-initramfs",
			"--agent", filepath.Join(inputs, "runxen-agent"),
			"--cache", cache,
			"--mirror", "http://mirror.example/debian",
			"--modules-dir", filepath.Join(guest, "modules"),
			"--modules", "9pnet,overlay",
			"--out", out}, extra...)
		if err := run(t, args...); err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		return data
	}

	prod := build()
	raw, comp := unpack(t, prod)
	if comp != "zstd" {
		t.Errorf("compression %s, want zstd for a kernel with CONFIG_RD_ZSTD", comp)
	}
	for _, want := range []string{"usr/sbin/runc", "etc/passwd", "var/run", "usr/lib/modules/" + testVersion + "/kernel/net/9p/9pnet.ko"} {
		if !bytes.Contains(raw, []byte(want+"\x00")) {
			t.Errorf("production image lacks /%s", want)
		}
	}
	if bytes.Contains(raw, []byte("rootfs/busybox")) {
		t.Error("production image has the test root file system")
	}
	fetches := len(fake.commands())
	if !bytes.Equal(prod, build()) {
		t.Error("two builds differ")
	}
	if got := len(fake.commands()); got != fetches {
		t.Errorf("the second build ran %q: want a cache hit", fake.commands()[fetches:])
	}

	test := build("--test-extras", "--file", filepath.Join(inputs, "helper")+":/usr/bin/runxen-test-helper:0755")
	raw, _ = unpack(t, test)
	for _, want := range []string{"rootfs/busybox/bin/busybox", "rootfs/busybox/usr/bin/env", "rootfs/busybox/etc/passwd",
		strings.TrimPrefix(agentimage.VchanSocketProxy, "/"), "usr/bin/runxen-test-helper"} {
		if !bytes.Contains(raw, []byte(want+"\x00")) {
			t.Errorf("test image lacks /%s", want)
		}
	}
	var downloads []string
	for _, c := range fake.commands() {
		if strings.Contains(c, " download ") {
			downloads = append(downloads, c)
		}
	}
	want := []string{
		"apt-get -q download libc6 libseccomp2 runc",
		"apt-get -q download " + strings.Join(agentimage.PackagesFor(true), " "),
	}
	if !slices.Equal(downloads, want) {
		t.Errorf("downloads\n got %q\nwant %q", downloads, want)
	}
}

func TestAgentInitramfsCompression(t *testing.T) {
	useFakeDebian(t)
	cache := t.TempDir()
	gzipOnly := filepath.Join(t.TempDir(), "config")
	kmodtest.WriteFile(t, filepath.Dir(gzipOnly), "config", []byte("CONFIG_BLK_DEV_INITRD=y\nCONFIG_RD_GZIP=y\n"))
	withConfig, without := guestKernel(t, zstdConfig), guestKernel(t, "")
	inputs := t.TempDir()
	kmodtest.WriteFile(t, inputs, "runxen-agent", staticELF("agent"))
	tests := []struct {
		name    string
		guest   string
		args    []string
		want    string
		wantErr string
	}{
		{"auto with CONFIG_RD_ZSTD", withConfig, nil, "zstd", ""},
		{"auto given the modules' version directory", withConfig, []string{"--modules-dir", filepath.Join(withConfig, "modules", testVersion)}, "zstd", ""},
		{"auto without a configuration", without, nil, "gzip", ""},
		{"auto with an explicit configuration", withConfig, []string{"--kernel-config", gzipOnly}, "gzip", ""},
		{"gzip asked for", withConfig, []string{"--compress", "gzip"}, "gzip", ""},
		{"zstd asked for", without, []string{"--compress", "zstd"}, "zstd", ""},
		{"unknown", withConfig, []string{"--compress", "xz"}, "", "unknown compression"},
		{"missing configuration", withConfig, []string{"--kernel-config", filepath.Join(t.TempDir(), "nope")}, "", "kernel configuration"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "agent.initramfs")
			args := append([]string{"agent-initramfs", "--agent", filepath.Join(inputs, "runxen-agent"), "--cache", cache,
				"--mirror", "http://mirror.example/debian", "--modules-dir", filepath.Join(tt.guest, "modules"), "--modules", "overlay", "--out", out}, tt.args...)
			err := run(t, args...)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			data, _ := os.ReadFile(out)
			if _, got := unpack(t, data); got != tt.want {
				t.Errorf("compression %s, want %s", got, tt.want)
			}
		})
	}
}

func TestAgentInitramfsErrors(t *testing.T) {
	useFakeDebian(t)
	guest := guestKernel(t, "")
	inputs := t.TempDir()
	kmodtest.WriteFile(t, inputs, "script", []byte("#!/bin/sh\n"))
	kmodtest.WriteFile(t, inputs, "runxen-agent", staticELF("agent"))
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"agent not ELF", []string{"--agent", filepath.Join(inputs, "script"), "--modules-dir", filepath.Join(guest, "modules")}, "agent"},
		{"no modules directory", []string{"--agent", filepath.Join(inputs, "runxen-agent")}, "--modules-dir is required"},
		{"bad --file", []string{"--agent", filepath.Join(inputs, "runxen-agent"), "--modules", "", "--file", "x"}, "SRC:DST"},
		{"file over runc", []string{"--agent", filepath.Join(inputs, "runxen-agent"), "--modules", "", "--file", filepath.Join(inputs, "script") + ":/usr/sbin/runc"}, "added twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"agent-initramfs", "--cache", t.TempDir(), "--mirror", "http://mirror.example/debian",
				"--out", filepath.Join(t.TempDir(), "x")}, tt.args...)
			if err := run(t, args...); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}
