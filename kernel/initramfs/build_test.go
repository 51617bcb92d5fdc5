package initramfs

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/runxen/runxen/kernel/kmod"
	"github.com/runxen/runxen/kernel/kmod/kmodtest"
)

const testVersion = "6.12.99+deb13-amd64"

// testInputs writes a synthetic module tree (with modules.dep) and an init
// binary under dir.
func testInputs(t *testing.T, dir string) Spec {
	t.Helper()
	mods := filepath.Join(dir, "lib/modules", testVersion)
	kmodtest.WriteTree(t, mods, []kmodtest.Spec{
		{Path: "kernel/fs/netfs/netfs.ko.xz"},
		{Path: "kernel/net/9p/9pnet.ko.xz", Depends: []string{"netfs"}},
		{Path: "kernel/net/9p/9pnet_xen.ko.zst", Depends: []string{"9pnet"}},
		{Path: "kernel/fs/9p/9p.ko.gz", Depends: []string{"9pnet", "netfs"}},
		{Path: "kernel/drivers/block/xen-blkfront.ko.xz"},
		{Path: "kernel/fs/overlayfs/overlay.ko"},
	})
	kmodtest.WriteFile(t, mods, "modules.builtin", []byte("kernel/drivers/xen/xen-evtchn.ko\n"))
	if err := kmod.GenerateDep(context.Background(), mods); err != nil {
		t.Fatal(err)
	}
	kmodtest.WriteFile(t, dir, "init", []byte("\x7fELF fake init"))
	kmodtest.WriteFile(t, dir, "motd", []byte("hello\n"))
	return Spec{
		Init:          filepath.Join(dir, "init"),
		KernelVersion: testVersion,
		ModulesDir:    mods,
		Modules:       []string{"9p", "xen-evtchn", "9pnet-xen", "xen_blkfront", "overlay"},
		Files:         []File{{Src: filepath.Join(dir, "motd"), Dst: "/etc/motd", Mode: 0o600}},
	}
}

func build(t *testing.T, s Spec) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := Build(&b, s); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestBuildContents(t *testing.T) {
	s := testInputs(t, t.TempDir())
	members, err := readNewc(gunzip(t, build(t, s)))
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]member{}
	var names []string
	for i, m := range members {
		byName[m.name] = m
		names = append(names, m.name)
		if m.uid != 0 || m.gid != 0 || m.mtime != 0 {
			t.Errorf("%s: uid %d gid %d mtime %d, want zeros", m.name, m.uid, m.gid, m.mtime)
		}
		if m.ino != uint64(i+1) {
			t.Errorf("%s: inode %d, want %d", m.name, m.ino, i+1)
		}
	}
	if !slices.IsSorted(names) {
		t.Errorf("entries not sorted: %q", names)
	}

	wantMode := map[string]uint64{
		"dev": 0o40755, "proc": 0o40555, "sys": 0o40555, "tmp": 0o41777, "run": 0o40755,
		"etc": 0o40755, "root": 0o40700, "sbin": 0o40755, "etc/runxen": 0o40755,
		"dev/console": 0o20600, "init": 0o100755, "etc/motd": 0o100600,
		ModulesLoad[1:]: 0o100644,
	}
	for name, mode := range wantMode {
		m, ok := byName[name]
		if !ok {
			t.Errorf("missing /%s", name)
			continue
		}
		if m.mode != mode {
			t.Errorf("/%s: mode %o, want %o", name, m.mode, mode)
		}
	}
	if c := byName["dev/console"]; c.rdevMajor != 5 || c.rdevMinor != 1 || len(c.data) != 0 {
		t.Errorf("/dev/console: rdev %d:%d size %d", c.rdevMajor, c.rdevMinor, len(c.data))
	}
	if got := string(byName["init"].data); got != "\x7fELF fake init" {
		t.Errorf("/init = %q", got)
	}

	prefix := "/lib/modules/" + testVersion + "/kernel/"
	wantLoad := []string{
		prefix + "fs/netfs/netfs.ko",
		prefix + "net/9p/9pnet.ko",
		prefix + "fs/9p/9p.ko",
		prefix + "net/9p/9pnet_xen.ko",
		prefix + "drivers/block/xen-blkfront.ko",
		prefix + "fs/overlayfs/overlay.ko",
	}
	if got := strings.Split(strings.TrimSpace(string(byName[ModulesLoad[1:]].data)), "\n"); !slices.Equal(got, wantLoad) {
		t.Errorf("modules.load:\n%q\nwant\n%q", got, wantLoad)
	}
	for _, p := range wantLoad {
		m, ok := byName[p[1:]]
		if !ok {
			t.Errorf("missing %s", p)
			continue
		}
		info, err := kmod.ReadModInfo(m.data)
		if err != nil {
			t.Errorf("%s is not a decompressed module: %v", p, err)
			continue
		}
		if want := strings.TrimSuffix(filepath.Base(p), ".ko"); info["name"][0] != want {
			t.Errorf("%s holds module %q", p, info["name"])
		}
	}
	for name := range byName {
		if strings.Contains(name, "xen-evtchn") || strings.HasSuffix(name, ".xz") || strings.HasSuffix(name, ".zst") || strings.HasSuffix(name, ".gz") {
			t.Errorf("unexpected entry %s", name)
		}
	}
}

func TestBuildReproducible(t *testing.T) {
	a := testInputs(t, t.TempDir())
	first := build(t, a)
	if !bytes.Equal(first, build(t, a)) {
		t.Fatal("two builds of the same inputs differ")
	}
	// Same content in another place, with other file times and in another
	// order: still the same bytes.
	b := testInputs(t, t.TempDir())
	old := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	filepath.Walk(filepath.Dir(b.Init), func(p string, _ os.FileInfo, _ error) error {
		return os.Chtimes(p, old, old)
	})
	slices.Reverse(b.Files)
	if !bytes.Equal(first, build(t, b)) {
		t.Fatal("builds from equal inputs in different directories differ")
	}
}

func TestBuildErrors(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Spec)
		want string
	}{
		{"unknown module", func(s *Spec) { s.Modules = append(s.Modules, "nosuch-mod") }, `unknown module "nosuch_mod"`},
		{"no init", func(s *Spec) { s.Init = "" }, "no init"},
		{"missing init", func(s *Spec) { s.Init = "/nonexistent/init" }, "init"},
		{"no modules.dep", func(s *Spec) { s.ModulesDir = filepath.Dir(s.ModulesDir) }, "modules.dep"},
		{"bad version", func(s *Spec) { s.KernelVersion = "../x" }, "kernel version"},
		{"relative dst", func(s *Spec) { s.Files[0].Dst = "etc/motd" }, "not absolute"},
		{"escaping dst", func(s *Spec) { s.Files[0].Dst = "/../x" }, "not a clean"},
		{"root dst", func(s *Spec) { s.Files[0].Dst = "/" }, "not a clean"},
		{"duplicate", func(s *Spec) { s.Files[0].Dst = "/init" }, "added twice"},
		{"over a directory", func(s *Spec) { s.Files[0].Dst = "/etc" }, "added twice"},
		{"under a file", func(s *Spec) { s.Files[0].Dst = "/init/x" }, "both a file and a directory"},
		{"directory source", func(s *Spec) { s.Files[0].Src = s.ModulesDir }, "not a regular file"},
		{"type in mode", func(s *Spec) { s.Files[0].Mode = os.ModeDir | 0o755 }, "not a permission mode"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := testInputs(t, t.TempDir())
			tt.edit(&s)
			err := Build(&bytes.Buffer{}, s)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestBuildWithoutModules(t *testing.T) {
	dir := t.TempDir()
	kmodtest.WriteFile(t, dir, "init", []byte("init"))
	members, err := readNewc(gunzip(t, build(t, Spec{Init: filepath.Join(dir, "init")})))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range members {
		if m.name == ModulesLoad[1:] && len(m.data) != 0 {
			t.Errorf("modules.load = %q, want empty", m.data)
		}
	}
}

func TestCpioPerm(t *testing.T) {
	tests := map[os.FileMode]uint32{
		0o755:                         0o755,
		os.ModeSetuid | 0o755:         0o4755,
		os.ModeSetgid | 0o750:         0o2750,
		os.ModeSticky | 0o777:         0o1777,
		os.ModeSetuid | os.ModeSetgid: 0o6000,
	}
	for in, want := range tests {
		if got := cpioPerm(in); got != want {
			t.Errorf("cpioPerm(%v) = %o, want %o", in, got, want)
		}
	}
}

func TestBuildLinksDirsAndData(t *testing.T) {
	s := testInputs(t, t.TempDir())
	s.MergedUsr = true
	s.Dirs = []Dir{
		{Path: "/rootfs/busybox/tmp", Mode: os.ModeSticky | 0o777},
		{Path: "/var", Mode: 0o755},
		{Path: "/tmp", Mode: 0o700}, // changes a base directory
	}
	s.Symlinks = []Symlink{
		{Path: "/var/run", Target: "../run"},
		{Path: "/rootfs/busybox/bin/sh", Target: "busybox"},
	}
	s.Files = append(s.Files,
		File{Dst: "/etc/passwd", Data: []byte("root:x:0:0:root:/root:/sbin/nologin\n")},
		File{Dst: "/usr/sbin/tool", Data: []byte("#!"), Mode: 0o755},
		File{Dst: "/etc/empty", Data: nil})
	members, err := readNewc(gunzip(t, build(t, s)))
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]member{}
	for _, m := range members {
		byName[m.name] = m
	}
	// Modules live under /usr/lib/modules, and modules.load says so.
	load := string(byName[ModulesLoad[1:]].data)
	if !strings.HasPrefix(load, "/usr/lib/modules/"+testVersion+"/kernel/") {
		t.Errorf("modules.load = %q", load)
	}
	for _, p := range strings.Fields(load) {
		if _, ok := byName[p[1:]]; !ok {
			t.Errorf("modules.load names %s, which is not in the archive", p)
		}
	}
	want := []struct {
		name string
		mode uint64
		data string
	}{
		{"bin", 0o120777, "usr/bin"},
		{"sbin", 0o120777, "usr/sbin"},
		{"lib", 0o120777, "usr/lib"},
		{"lib64", 0o120777, "usr/lib64"},
		{"usr/bin", 0o40755, ""},
		{"usr/sbin", 0o40755, ""},
		{"usr/lib64", 0o40755, ""},
		{"var", 0o40755, ""},
		{"var/run", 0o120777, "../run"},
		{"tmp", 0o40700, ""},
		{"rootfs/busybox", 0o40755, ""},
		{"rootfs/busybox/tmp", 0o41777, ""},
		{"rootfs/busybox/bin/sh", 0o120777, "busybox"},
		{"etc/passwd", 0o100644, "root:x:0:0:root:/root:/sbin/nologin\n"},
		{"usr/sbin/tool", 0o100755, "#!"},
		{"etc/empty", 0o100644, ""},
	}
	for _, w := range want {
		m, ok := byName[w.name]
		if !ok {
			t.Errorf("missing /%s", w.name)
			continue
		}
		if m.mode != w.mode || string(m.data) != w.data {
			t.Errorf("/%s: mode %o data %q, want %o %q", w.name, m.mode, m.data, w.mode, w.data)
		}
		if m.nlink != 1 && m.mode&0o170000 != 0o40000 {
			t.Errorf("/%s: nlink %d", w.name, m.nlink)
		}
	}
}

func TestBuildLayoutErrors(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Spec)
		want string
	}{
		{"file under a merged link", func(s *Spec) {
			s.MergedUsr = true
			s.Files = append(s.Files, File{Dst: "/lib/x.so", Data: []byte{}})
		}, "both a file and a directory"},
		{"link over a directory", func(s *Spec) { s.Symlinks = []Symlink{{Path: "/etc", Target: "x"}} }, "added twice"},
		{"empty link target", func(s *Spec) { s.Symlinks = []Symlink{{Path: "/x", Target: ""}} }, "unusable link target"},
		{"relative link path", func(s *Spec) { s.Symlinks = []Symlink{{Path: "x", Target: "y"}} }, "not absolute"},
		{"directory over a file", func(s *Spec) { s.Dirs = []Dir{{Path: "/init", Mode: 0o755}} }, "/init added twice"},
		{"type in directory mode", func(s *Spec) { s.Dirs = []Dir{{Path: "/x", Mode: os.ModeDir | 0o755}} }, "not a permission mode"},
		{"source and data", func(s *Spec) { s.Files[0].Data = []byte("x") }, "both a source and data"},
		{"unknown compression", func(s *Spec) { s.Compression = "lz4" }, "unknown compression"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := testInputs(t, t.TempDir())
			tt.edit(&s)
			err := Build(&bytes.Buffer{}, s)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestBuildZstd(t *testing.T) {
	s := testInputs(t, t.TempDir())
	s.Compression = Zstd
	data := build(t, s)
	if !bytes.Equal(data, build(t, s)) {
		t.Fatal("two zstd builds of the same inputs differ")
	}
	var h zstd.Header
	if err := h.Decode(data); err != nil {
		t.Fatal(err)
	}
	if h.SingleSegment || h.WindowSize == 0 || h.WindowSize > zstdWindow {
		t.Errorf("frame header %+v: want a window of at most %d bytes, which is what the guest allocates", h, zstdWindow)
	}
	dec, err := zstd.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	raw, err := io.ReadAll(dec)
	if err != nil {
		t.Fatal(err)
	}
	zm, err := readNewc(raw)
	if err != nil {
		t.Fatal(err)
	}
	s.Compression = Gzip
	gm, err := readNewc(gunzip(t, build(t, s)))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(zm, gm) {
		t.Error("zstd and gzip archives hold different entries")
	}
}

func TestParseCompression(t *testing.T) {
	for in, want := range map[string]Compression{"gzip": Gzip, "zstd": Zstd, "": "", "xz": "", "GZIP": ""} {
		got, err := ParseCompression(in)
		if got != want || (err == nil) != (want != "") {
			t.Errorf("ParseCompression(%q) = %q, %v", in, got, err)
		}
	}
}

func TestWriteStats(t *testing.T) {
	s := testInputs(t, t.TempDir())
	var b bytes.Buffer
	st, err := Write(&b, s)
	if err != nil {
		t.Fatal(err)
	}
	raw := gunzip(t, b.Bytes())
	members, err := readNewc(raw)
	if err != nil {
		t.Fatal(err)
	}
	if st.Uncompressed != int64(len(raw)) || st.Entries != len(members) {
		t.Errorf("stats %+v, archive has %d bytes and %d members", st, len(raw), len(members))
	}
}
