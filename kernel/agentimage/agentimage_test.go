package agentimage

import (
	"bytes"
	"context"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/runxen/runxen/internal/debian/apt"
	"github.com/runxen/runxen/kernel/elfdeps"
	"github.com/runxen/runxen/kernel/initramfs"
)

// staticELF is the smallest file debug/elf reads as a static x86-64
// executable: a header without program or section headers.
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

func writeFile(t *testing.T, p string, data []byte, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, mode); err != nil {
		t.Fatal(err)
	}
}

// testTree lays out the packages' files as Debian ships them, with static
// stand-ins for the binaries.
func testTree(t *testing.T) string {
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "usr/sbin/runc"), staticELF("runc"), 0o755)
	writeFile(t, filepath.Join(root, "usr/bin/busybox"), staticELF("busybox"), 0o755)
	if err := os.Symlink("../sbin/runc", filepath.Join(root, "usr/bin/runc")); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(root, strings.TrimPrefix(VchanSocketProxy, "/")), staticELF("proxy"), 0o755)
	writeFile(t, filepath.Join(root, "usr/share/doc/runc/copyright"), []byte("c"), 0o644)
	return root
}

// fakeBusybox answers --list-full (or, with noFull, only --list).
type fakeBusybox struct {
	list   string
	noFull bool
	ran    []string
}

func (f *fakeBusybox) Run(_ context.Context, c apt.Cmd) ([]byte, error) {
	f.ran = append(f.ran, filepath.Base(c.Name)+" "+strings.Join(c.Args, " "))
	if filepath.Base(c.Name) != "busybox" {
		return nil, fmt.Errorf("unexpected command %s", c)
	}
	switch {
	case c.Args[0] == "--list-full" && !f.noFull:
		return []byte(f.list), nil
	case c.Args[0] == "--list" && f.noFull:
		return []byte(f.list), nil
	}
	return nil, errors.New("busybox: unknown option")
}

const testApplets = "linuxrc\nusr/bin/[\nbin/sh\nsbin/ifconfig\nusr/sbin/chroot\nbin/ls\nusr/bin/env\n"

func testOptions(t *testing.T, tree string, testExtras bool) Options {
	agent := filepath.Join(t.TempDir(), "runxen-agent")
	writeFile(t, agent, staticELF("agent"), 0o755)
	return Options{
		Agent:      agent,
		Tree:       tree,
		TestExtras: testExtras,
		Runner:     &fakeBusybox{list: testApplets},
	}
}

// guestView is an unpacked archive: name (without leading slash) -> entry.
type guestView map[string]cpioEntry

type cpioEntry struct {
	mode uint64
	data []byte
}

func readArchive(t *testing.T, data []byte) guestView {
	t.Helper()
	dec, err := zstd.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	raw, err := io.ReadAll(dec)
	if err != nil {
		t.Fatal(err)
	}
	v := guestView{}
	for off := 0; ; {
		h := raw[off : off+110]
		field := func(i int) uint64 {
			n, err := strconv.ParseUint(string(h[6+8*i:14+8*i]), 16, 32)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
		mode, size, namesize := field(1), int(field(6)), int(field(11))
		off += 110
		name := string(raw[off : off+namesize-1])
		off = (off + namesize + 3) &^ 3
		body := raw[off : off+size]
		off = (off + size + 3) &^ 3
		if name == "TRAILER!!!" {
			return v
		}
		v[name] = cpioEntry{mode: mode, data: body}
	}
}

// resolve follows links in the archive as the guest kernel would and
// returns the name of the regular file p ends at.
func (v guestView) resolve(p string) (string, error) {
	rest := strings.Split(strings.TrimPrefix(p, "/"), "/")
	cur := ""
	for hops := 0; len(rest) > 0; {
		c := rest[0]
		rest = rest[1:]
		if c == "" || c == "." {
			continue
		}
		if c == ".." {
			cur = path.Dir(cur)
			if cur == "." {
				cur = ""
			}
			continue
		}
		next := path.Join(cur, c)
		e, ok := v[next]
		if !ok {
			return "", fmt.Errorf("%s: /%s missing", p, next)
		}
		if e.mode&0o170000 == 0o120000 {
			if hops++; hops > 40 {
				return "", fmt.Errorf("%s: loop", p)
			}
			target := string(e.data)
			if path.IsAbs(target) {
				cur = ""
			}
			rest = append(strings.Split(target, "/"), rest...)
			continue
		}
		cur = next
	}
	if e := v[cur]; e.mode&0o170000 != 0o100000 {
		return "", fmt.Errorf("%s: /%s is not a regular file", p, cur)
	}
	return cur, nil
}

func build(t *testing.T, o Options) []byte {
	t.Helper()
	o.Compression = initramfs.Zstd
	s, err := Spec(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := initramfs.Build(&b, s); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestProductionImage(t *testing.T) {
	o := testOptions(t, testTree(t), false)
	v := readArchive(t, build(t, o))
	for p, want := range map[string]string{
		"/init":           "agent",
		"/usr/sbin/runc":  "runc",
		"/sbin/runc":      "runc",
		"/etc/passwd":     guestPasswd,
		"/etc/group":      guestGroup,
		"/var/run/../run": "",
	} {
		name, err := v.resolve(p)
		if want == "" {
			if e, ok := v["run"]; !ok || e.mode != 0o40755 || err == nil {
				t.Errorf("%s: want the /run directory (%v)", p, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		if got := string(v[name].data); !strings.HasSuffix(got, want) {
			t.Errorf("%s holds %q, want %q", p, got, want)
		}
	}
	if l := v["var/run"]; string(l.data) != "../run" {
		t.Errorf("/var/run -> %q", l.data)
	}
	for name := range v {
		for _, absent := range []string{"rootfs", "busybox", "xen-4.20", "usr/bin/runc", "usr/share"} {
			if strings.Contains(name, absent) {
				t.Errorf("production image has /%s", name)
			}
		}
	}
}

func TestTestImage(t *testing.T) {
	o := testOptions(t, testTree(t), true)
	v := readArchive(t, build(t, o))
	for p, want := range map[string]string{
		VchanSocketProxy:                      "proxy",
		"/usr/sbin/runc":                      "runc",
		BusyboxRoot + "/bin/busybox":          "busybox",
		BusyboxRoot + "/bin/sh":               "busybox",
		BusyboxRoot + "/usr/bin/[":            "busybox",
		BusyboxRoot + "/usr/sbin/chroot":      "busybox",
		BusyboxRoot + "/sbin/ifconfig":        "busybox",
		BusyboxRoot + "/usr/bin/env":          "busybox",
		BusyboxRoot + "/etc/passwd":           "user:x:1000:1000:user:/home/user:/bin/sh\n",
		BusyboxRoot + "/etc/group":            "user:x:1000:\n",
		BusyboxRoot + "/../busybox/bin/ls":    "busybox",
		BusyboxRoot + "/usr/bin/../../bin/sh": "busybox",
	} {
		name, err := v.resolve(p)
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		if got := string(v[name].data); !strings.HasSuffix(got, want) {
			t.Errorf("%s holds %q, want %q", p, got, want)
		}
	}
	modes := map[string]uint64{
		"tmp": 0o41777, "proc": 0o40555, "sys": 0o40555, "dev": 0o40755, "root": 0o40700, "home/user": 0o40755,
		"bin/busybox": 0o100755, "usr/bin/[": 0o120777,
	}
	for name, mode := range modes {
		if e := v[strings.TrimPrefix(BusyboxRoot, "/")+"/"+name]; e.mode != mode {
			t.Errorf("%s/%s: mode %o, want %o", BusyboxRoot, name, e.mode, mode)
		}
	}
}

func TestExtraFiles(t *testing.T) {
	o := testOptions(t, testTree(t), false)
	o.Files = []initramfs.File{
		{Dst: "/bin/helper", Data: []byte("helper"), Mode: 0o755},
		{Dst: "/etc/runxen/test.conf", Data: []byte("conf")},
	}
	v := readArchive(t, build(t, o))
	for p, want := range map[string]string{"/bin/helper": "helper", "/usr/bin/helper": "helper", "/etc/runxen/test.conf": "conf"} {
		name, err := v.resolve(p)
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		if got := string(v[name].data); got != want {
			t.Errorf("%s holds %q, want %q", p, got, want)
		}
	}
	if e := v["usr/bin/helper"]; e.mode != 0o100755 {
		t.Errorf("/usr/bin/helper mode %o", e.mode)
	}
}

func TestReproducible(t *testing.T) {
	first := build(t, testOptions(t, testTree(t), true))
	// Another tree in another place, another agent path: the same bytes.
	if !bytes.Equal(first, build(t, testOptions(t, testTree(t), true))) {
		t.Fatal("two builds from equal inputs differ")
	}
}

func TestDynamicRunc(t *testing.T) {
	// A host program with its libraries, laid out as an unpacked package
	// tree with the program as runc: the image must hold its interpreter
	// and libraries where the guest's loader looks.
	ls, err := exec.LookPath("ls")
	if err != nil {
		t.Skip("no ls")
	}
	ls, _ = filepath.Abs(ls)
	entries, err := elfdeps.Closure("/", filepath.ToSlash(ls))
	if err != nil {
		t.Skipf("host ls: %v", err)
	}
	if len(entries) < 2 {
		t.Skip("host ls is static")
	}
	tree := testTree(t)
	for _, e := range entries {
		dst := filepath.Join(tree, filepath.FromSlash(e.Path))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if e.IsSymlink() {
			if err := os.Symlink(e.Target, dst); err != nil && !errors.Is(err, os.ErrExist) {
				t.Fatal(err)
			}
			continue
		}
		data, err := os.ReadFile(e.Src)
		if err != nil {
			t.Fatal(err)
		}
		if e.Path == elfdeps.Canonical(filepath.ToSlash(ls)) {
			dst = filepath.Join(tree, "usr/sbin/runc")
		}
		writeFile(t, dst, data, 0o755)
	}
	v := readArchive(t, build(t, testOptions(t, tree, false)))
	runc := v["usr/sbin/runc"].data
	f, err := elf.NewFile(bytes.NewReader(runc))
	if err != nil {
		t.Fatal(err)
	}
	needed, _ := f.ImportedLibraries()
	var interp string
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			b := make([]byte, p.Filesz)
			p.ReadAt(b, 0)
			interp = strings.TrimRight(string(b), "\x00")
		}
	}
	if _, err := v.resolve(interp); err != nil {
		t.Errorf("interpreter: %v", err)
	}
	// With no ld.so.cache, the loader searches these (multiarch first).
	for _, lib := range needed {
		found := false
		for _, dir := range []string{"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib/aarch64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/lib", "/usr/lib"} {
			if _, err := v.resolve(dir + "/" + lib); err == nil {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("guest loader would not find %s", lib)
		}
	}
}

func TestSpecErrors(t *testing.T) {
	tests := []struct {
		name string
		edit func(t *testing.T, o *Options)
		want string
	}{
		{"agent not ELF", func(t *testing.T, o *Options) { writeFile(t, o.Agent, []byte("#!/bin/sh\n"), 0o755) }, "agent"},
		{"no agent", func(t *testing.T, o *Options) { o.Agent = "" }, "no binary"},
		{"no tree", func(t *testing.T, o *Options) { o.Tree = "" }, "no package tree"},
		{"no runc in the tree", func(t *testing.T, o *Options) { os.Remove(filepath.Join(o.Tree, "usr/sbin/runc")) }, "/usr/sbin/runc"},
		{"no proxy in the tree", func(t *testing.T, o *Options) {
			os.Remove(filepath.Join(o.Tree, strings.TrimPrefix(VchanSocketProxy, "/")))
		}, "vchan-socket-proxy"},
		{"no busybox in the tree", func(t *testing.T, o *Options) { os.Remove(filepath.Join(o.Tree, "usr/bin/busybox")) }, "busybox"},
		{"applet outside the root", func(t *testing.T, o *Options) { o.Runner = &fakeBusybox{list: "bin/sh\n../../etc/x\n"} }, "unexpected applet"},
		{"applet in an odd place", func(t *testing.T, o *Options) { o.Runner = &fakeBusybox{list: "bin/sh\nopt/x\n"} }, "unexpected applet"},
		{"applet over a directory", func(t *testing.T, o *Options) { o.Runner = &fakeBusybox{list: "bin/sh\ntmp\n"} }, "unexpected applet"},
		{"no sh", func(t *testing.T, o *Options) { o.Runner = &fakeBusybox{list: "bin/ls\n"} }, "no sh"},
		{"busybox fails", func(t *testing.T, o *Options) { o.Runner = &fakeBusybox{list: "", noFull: true} }, "no applets"},
		{"extra file over runc", func(t *testing.T, o *Options) {
			o.Files = []initramfs.File{{Dst: Runc, Data: []byte("x")}}
		}, "added twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := testOptions(t, testTree(t), true)
			tt.edit(t, &o)
			s, err := Spec(context.Background(), o)
			if err == nil {
				err = initramfs.Build(io.Discard, s)
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestDynamicAgentRefused(t *testing.T) {
	ls, err := exec.LookPath("ls")
	if err != nil {
		t.Skip("no ls")
	}
	f, err := elf.Open(ls)
	if err != nil {
		t.Skipf("host ls: %v", err)
	}
	dynamic := slices.ContainsFunc(f.Progs, func(p *elf.Prog) bool { return p.Type == elf.PT_INTERP })
	f.Close()
	if !dynamic {
		t.Skip("host ls is static")
	}
	o := testOptions(t, testTree(t), false)
	o.Agent = ls
	if _, err := Spec(context.Background(), o); err == nil || !strings.Contains(err.Error(), "dynamically linked") {
		t.Fatalf("err = %v, want a dynamically linked agent refused", err)
	}
}

func TestListAppletsFallback(t *testing.T) {
	r := &fakeBusybox{list: "sh\nls\n[\n", noFull: true}
	got, err := listApplets(context.Background(), r, "/tree/usr/bin/busybox")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"bin/[", "bin/ls", "bin/sh"}; !slices.Equal(got, want) {
		t.Errorf("applets = %q, want %q", got, want)
	}
	if want := []string{"busybox --list-full", "busybox --list"}; !slices.Equal(r.ran, want) {
		t.Errorf("ran %q", r.ran)
	}
}

func TestAppletTarget(t *testing.T) {
	for applet, want := range map[string]string{
		"linuxrc":         "bin/busybox",
		"bin/sh":          "busybox",
		"sbin/ifconfig":   "../bin/busybox",
		"usr/bin/[":       "../../bin/busybox",
		"usr/sbin/chroot": "../../bin/busybox",
	} {
		if got := appletTarget(applet); got != want {
			t.Errorf("appletTarget(%q) = %q, want %q", applet, got, want)
		}
	}
}

func TestPackagesFor(t *testing.T) {
	prod := PackagesFor(false)
	if !slices.Equal(prod, []string{"libc6", "libseccomp2", "runc"}) {
		t.Errorf("production packages %q", prod)
	}
	all := PackagesFor(true)
	if !slices.IsSorted(all) || len(all) != len(Packages)+len(TestPackages) {
		t.Errorf("test packages %q", all)
	}
	for _, p := range all {
		if err := apt.CheckPackageName(p); err != nil {
			t.Error(err)
		}
	}
}
