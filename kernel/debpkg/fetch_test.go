package debpkg

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/runxen/runxen/internal/debian/apt"
	"github.com/runxen/runxen/kernel/internal/cache"
)

// fakeArchive stands in for apt-config, apt-get and dpkg-deb.
type fakeArchive struct {
	t        *testing.T
	versions map[string]string // package -> version (with epoch)
	failOn   string            // fail commands whose String() contains this

	mu    sync.Mutex
	calls []string
}

func newFakeArchive(t *testing.T) *fakeArchive {
	return &fakeArchive{t: t, versions: map[string]string{
		"libc6":          "2.41-12",
		"libseccomp2":    "2.6.0-2",
		"runc":           "1.1.15+ds1-2+b4",
		"busybox-static": "1:1.37.0-6+b9",
	}}
}

func (f *fakeArchive) Run(_ context.Context, c apt.Cmd) ([]byte, error) {
	f.mu.Lock()
	f.calls = append(f.calls, c.String())
	f.mu.Unlock()
	if f.failOn != "" && strings.Contains(c.String(), f.failOn) {
		return nil, fmt.Errorf("%s: injected failure", c)
	}
	if c.Name == "apt-get" || c.Name == "apt-cache" {
		f.checkAptConfig(c)
	}
	switch {
	case c.Name == "apt-config":
		return []byte("Acquire::http::Proxy \"http://proxy.example:3128\";\n"), nil
	case c.Name == "apt-get" && slices.Contains(c.Args, "update"):
		return nil, nil
	case c.Name == "apt-get" && slices.Contains(c.Args, "download"):
		pkgs := c.Args[slices.Index(c.Args, "download")+1:]
		for _, p := range pkgs {
			if _, ok := f.versions[p]; !ok {
				return nil, fmt.Errorf("E: Unable to locate package %s", p)
			}
		}
		for _, p := range pkgs {
			v := strings.ReplaceAll(f.versions[p], ":", "%3a")
			if err := os.WriteFile(filepath.Join(c.Dir, p+"_"+v+"_amd64.deb"), []byte(p), 0o644); err != nil {
				return nil, err
			}
		}
		return nil, nil
	case c.Name == "dpkg-deb":
		deb, dest := c.Args[1], c.Args[2]
		name, _, _ := strings.Cut(filepath.Base(deb), "_")
		dir := filepath.Join(dest, "usr/share/doc", name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		return nil, os.WriteFile(filepath.Join(dir, "copyright"), []byte(name), 0o644)
	}
	return nil, fmt.Errorf("unexpected command %s", c)
}

// checkAptConfig asserts apt commands run with the private configuration.
func (f *fakeArchive) checkAptConfig(c apt.Cmd) {
	f.t.Helper()
	var conf string
	for _, e := range c.Env {
		if v, ok := strings.CutPrefix(e, "APT_CONFIG="); ok {
			conf = v
		}
	}
	data, err := os.ReadFile(conf)
	if err != nil {
		f.t.Errorf("%s: private apt config: %v", c, err)
		return
	}
	if !strings.Contains(string(data), `Acquire::http::Proxy "http://proxy.example:3128";`) {
		f.t.Errorf("%s: host proxy not carried over:\n%s", c, data)
	}
}

func (f *fakeArchive) commands() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// refuseRunner fails the test if anything runs: a cache hit must not.
type refuseRunner struct{ t *testing.T }

func (r refuseRunner) Run(_ context.Context, c apt.Cmd) ([]byte, error) {
	r.t.Errorf("cache hit ran %s", c)
	return nil, errors.New("no commands allowed")
}

func testOptions(t *testing.T, cacheDir string, r apt.Runner, pkgs ...string) Options {
	keyring := filepath.Join(t.TempDir(), "keyring.gpg")
	if err := os.WriteFile(keyring, []byte("key"), 0o644); err != nil {
		t.Fatal(err)
	}
	return Options{
		Packages: pkgs,
		Mirror:   "http://mirror.example/debian",
		CacheDir: cacheDir,
		Keyring:  keyring,
		Runner:   r,
		Progress: func(format string, args ...any) { t.Logf(format, args...) },
	}
}

func TestFetchMissThenHit(t *testing.T) {
	cacheDir := t.TempDir()
	fake := newFakeArchive(t)
	var progress []string
	opts := testOptions(t, cacheDir, fake, "runc", "libseccomp2", "libc6", "busybox-static", "runc")
	opts.Progress = func(format string, args ...any) { progress = append(progress, fmt.Sprintf(format, args...)) }
	tree, err := Fetch(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	want := []Package{
		{"busybox-static", "1:1.37.0-6+b9", "busybox-static_1%3a1.37.0-6+b9_amd64.deb"},
		{"libc6", "2.41-12", "libc6_2.41-12_amd64.deb"},
		{"libseccomp2", "2.6.0-2", "libseccomp2_2.6.0-2_amd64.deb"},
		{"runc", "1.1.15+ds1-2+b4", "runc_1.1.15+ds1-2+b4_amd64.deb"},
	}
	if len(tree.Packages) != len(want) {
		t.Fatalf("packages = %+v", tree.Packages)
	}
	for i, p := range tree.Packages {
		if p.Name != want[i].Name || p.Version != want[i].Version || filepath.Base(p.Deb) != want[i].Deb {
			t.Errorf("package %d = %+v, want %+v", i, p, want[i])
		}
		if data, err := os.ReadFile(filepath.Join(tree.Root, "usr/share/doc", p.Name, "copyright")); err != nil || string(data) != p.Name {
			t.Errorf("%s not unpacked into the tree: %q, %v", p.Name, data, err)
		}
	}
	wantCmds := []string{
		"apt-config dump Acquire",
		"apt-get -q update",
		"apt-get -q download busybox-static libc6 libseccomp2 runc",
	}
	for _, p := range tree.Packages {
		wantCmds = append(wantCmds, "dpkg-deb --extract "+p.Deb+" "+tree.Root)
	}
	if got := fake.commands(); !slices.Equal(got, wantCmds) {
		t.Errorf("commands\n got %q\nwant %q", got, wantCmds)
	}
	if left, _ := filepath.Glob(filepath.Join(cacheDir, "debpkg", "*", ".apt-*")); len(left) != 0 {
		t.Errorf("throwaway apt directories left behind: %v", left)
	}
	var timed int
	for _, l := range progress {
		if strings.Contains(l, " done in ") {
			timed++
		}
	}
	if timed != 3 {
		t.Errorf("want 3 timed steps (update, download, extract), progress:\n%s", strings.Join(progress, "\n"))
	}

	// Same set in another order: a hit, without commands.
	again, err := Fetch(context.Background(), testOptions(t, cacheDir, refuseRunner{t}, "libc6", "runc", "busybox-static", "libseccomp2"))
	if err != nil {
		t.Fatal(err)
	}
	if again.Root != tree.Root || !slices.Equal(again.Packages, tree.Packages) {
		t.Errorf("cache hit returned %+v, want %+v", again, tree)
	}
}

func TestFetchKeys(t *testing.T) {
	cacheDir := t.TempDir()
	base, err := Fetch(context.Background(), testOptions(t, cacheDir, newFakeArchive(t), "libc6", "runc"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		edit func(*Options)
	}{
		{"another package", func(o *Options) { o.Packages = append(o.Packages, "libseccomp2") }},
		{"fewer packages", func(o *Options) { o.Packages = o.Packages[:1] }},
		{"another suite", func(o *Options) { o.Suite = "forky" }},
		{"another architecture", func(o *Options) { o.Arch = "arm64" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := newFakeArchive(t)
			o := testOptions(t, cacheDir, fake, "libc6", "runc")
			tt.edit(&o)
			tree, err := Fetch(context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			if len(fake.commands()) == 0 || tree.Root == base.Root {
				t.Errorf("%s shared the entry %s", tt.name, tree.Root)
			}
		})
	}
	// The mirror is not part of the key.
	o := testOptions(t, cacheDir, refuseRunner{t}, "runc", "libc6")
	o.Mirror = "http://other.example/debian"
	if _, err := Fetch(context.Background(), o); err != nil {
		t.Fatal(err)
	}
}

func TestFetchRebuildsDamagedEntries(t *testing.T) {
	tests := []struct {
		name   string
		damage func(t *testing.T, entry string, tree *Tree)
	}{
		{"no marker (interrupted run)", func(t *testing.T, entry string, _ *Tree) {
			mustRemove(t, filepath.Join(entry, cache.MarkerName))
		}},
		{"tree gone", func(t *testing.T, _ string, tree *Tree) { mustRemove(t, tree.Root) }},
		{"a .deb gone", func(t *testing.T, _ string, tree *Tree) { mustRemove(t, tree.Packages[0].Deb) }},
		{"corrupt marker", func(t *testing.T, entry string, _ *Tree) {
			writeFile(t, filepath.Join(entry, cache.MarkerName), "{")
		}},
		{"marker of another cache format", func(t *testing.T, entry string, _ *Tree) {
			rewriteMarker(t, entry, func(m *marker) { m.Format = cacheFormat + 1 })
		}},
		{"marker for other packages", func(t *testing.T, entry string, _ *Tree) {
			rewriteMarker(t, entry, func(m *marker) { m.Packages = m.Packages[1:] })
		}},
		{"marker escaping the entry", func(t *testing.T, entry string, _ *Tree) {
			rewriteMarker(t, entry, func(m *marker) { m.Root = "../.." })
		}},
		{"absolute .deb path", func(t *testing.T, entry string, _ *Tree) {
			rewriteMarker(t, entry, func(m *marker) { m.Packages[0].Deb = "/etc/passwd" })
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cacheDir := t.TempDir()
			tree, err := Fetch(context.Background(), testOptions(t, cacheDir, newFakeArchive(t), "libc6", "runc"))
			if err != nil {
				t.Fatal(err)
			}
			entry := filepath.Dir(tree.Root)
			junk := filepath.Join(entry, "junk")
			writeFile(t, junk, "")
			tt.damage(t, entry, tree)
			fake := newFakeArchive(t)
			again, err := Fetch(context.Background(), testOptions(t, cacheDir, fake, "libc6", "runc"))
			if err != nil {
				t.Fatal(err)
			}
			if len(fake.commands()) == 0 {
				t.Error("damaged entry was not rebuilt")
			}
			if _, err := os.Stat(junk); !os.IsNotExist(err) {
				t.Errorf("partial entry not removed before rebuild (junk: %v)", err)
			}
			if again.Root != tree.Root || len(again.Packages) != 2 {
				t.Errorf("rebuilt entry not usable: %+v", again)
			}
		})
	}
}

func TestFetchFailureLeavesNoMarker(t *testing.T) {
	for _, step := range []string{"update", "download", "dpkg-deb", "runc_"} {
		t.Run(step, func(t *testing.T) {
			cacheDir := t.TempDir()
			fake := newFakeArchive(t)
			fake.failOn = step
			_, err := Fetch(context.Background(), testOptions(t, cacheDir, fake, "libc6", "runc"))
			if err == nil || !strings.Contains(err.Error(), "fetch packages libc6 runc (trixie)") {
				t.Fatalf("want a wrapped error, got %v", err)
			}
			if markers, _ := filepath.Glob(filepath.Join(cacheDir, "debpkg", "*", cache.MarkerName)); len(markers) != 0 {
				t.Errorf("failed fetch left a marker: %v", markers)
			}
		})
	}
}

func TestFetchUnknownPackage(t *testing.T) {
	_, err := Fetch(context.Background(), testOptions(t, t.TempDir(), newFakeArchive(t), "libc6", "nosuchpackage"))
	if err == nil || !strings.Contains(err.Error(), "nosuchpackage") {
		t.Fatalf("err = %v, want one naming the package", err)
	}
}

func TestFetchRefusesBadOptions(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Options)
		want string
	}{
		{"no cache", func(o *Options) { o.CacheDir = "" }, "cache directory"},
		{"no packages", func(o *Options) { o.Packages = nil }, "no packages"},
		{"option as name", func(o *Options) { o.Packages = []string{"-oDebug::x=1"} }, "not a Debian package name"},
		{"version pin", func(o *Options) { o.Packages = []string{"runc=1.0"} }, "not a Debian package name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := testOptions(t, t.TempDir(), refuseRunner{t}, "runc")
			tt.edit(&o)
			if _, err := Fetch(context.Background(), o); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestFetchConcurrent(t *testing.T) {
	cacheDir := t.TempDir()
	fake := newFakeArchive(t)
	var wg sync.WaitGroup
	roots := make([]string, 4)
	for i := range roots {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tree, err := Fetch(context.Background(), testOptions(t, cacheDir, fake, "runc", "libc6"))
			if err != nil {
				t.Error(err)
				return
			}
			roots[i] = tree.Root
		}()
	}
	wg.Wait()
	var downloads int
	for _, c := range fake.commands() {
		if strings.Contains(c, " download ") {
			downloads++
		}
	}
	if downloads != 1 {
		t.Errorf("%d downloads for one package set, want 1", downloads)
	}
	for _, r := range roots[1:] {
		if r != roots[0] {
			t.Errorf("roots differ: %q", roots)
		}
	}
}

func TestFetchHonoursCancelledLock(t *testing.T) {
	cacheDir := t.TempDir()
	opts := testOptions(t, cacheDir, refuseRunner{t}, "runc")
	o, err := opts.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	e, err := cache.Open(context.Background(), filepath.Join(cacheDir, "debpkg"), cacheKey(o), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Fetch(ctx, opts); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled while another fetch holds the lock", err)
	}
}

func mustRemove(t *testing.T, p string) {
	t.Helper()
	if err := os.RemoveAll(p); err != nil {
		t.Fatal(err)
	}
}

func writeFile(t *testing.T, p, content string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func rewriteMarker(t *testing.T, entry string, edit func(*marker)) {
	t.Helper()
	p := filepath.Join(entry, cache.MarkerName)
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var m marker
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	edit(&m)
	if data, err = json.Marshal(m); err != nil {
		t.Fatal(err)
	}
	writeFile(t, p, string(data))
}
