package debkernel

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/runxen/runxen/kernel/internal/cache"
)

func TestFetchMissThenHit(t *testing.T) {
	cacheDir := t.TempDir()
	fake := newFakeArchive(t)
	k, err := Fetch(context.Background(), testOptions(t, cacheDir, fake))
	if err != nil {
		t.Fatal(err)
	}
	if k.Version != fake.version || k.Package != "linux-image-6.12.99+deb13-amd64" {
		t.Errorf("got version %q package %q", k.Version, k.Package)
	}
	if filepath.Base(k.Vmlinuz) != "vmlinuz-"+fake.version || filepath.Base(k.ModulesDir) != fake.version {
		t.Errorf("unexpected paths %+v", k)
	}
	var names []string
	for _, c := range fake.commands() {
		f := strings.Fields(c)
		names = append(names, f[0]+" "+f[len(f)-1])
	}
	want := []string{
		"apt-config Acquire",
		"apt-get update",
		"apt-cache linux-image-amd64",
		"apt-cache linux-image-6.12.99+deb13-amd64",
		"apt-get linux-image-6.12.99+deb13-amd64",
		"dpkg-deb " + filepath.Join(filepath.Dir(k.Deb), "root"),
	}
	if !slices.Equal(names, want) {
		t.Errorf("commands\n got %q\nwant %q", names, want)
	}
	dep, err := os.ReadFile(filepath.Join(k.ModulesDir, "modules.dep"))
	if err != nil || !strings.Contains(string(dep), "kernel/net/9p/9pnet.ko.xz: kernel/fs/netfs/netfs.ko.xz\n") {
		t.Errorf("modules.dep not generated: %q, %v", dep, err)
	}
	leftovers, _ := filepath.Glob(filepath.Join(cacheDir, "kernel", "*", ".apt-*"))
	if len(leftovers) != 0 {
		t.Errorf("throwaway apt directories left behind: %v", leftovers)
	}

	again, err := Fetch(context.Background(), testOptions(t, cacheDir, refuseRunner{t}))
	if err != nil {
		t.Fatal(err)
	}
	if *again != *k {
		t.Errorf("cache hit returned %+v, want %+v", again, k)
	}
}

func TestFetchRebuildsDamagedEntries(t *testing.T) {
	tests := []struct {
		name   string
		damage func(t *testing.T, entry string, k *Kernel)
	}{
		{"no marker (interrupted run)", func(t *testing.T, entry string, _ *Kernel) {
			mustRemove(t, filepath.Join(entry, cache.MarkerName))
		}},
		{"marker but vmlinuz gone", func(t *testing.T, _ string, k *Kernel) {
			mustRemove(t, k.Vmlinuz)
		}},
		{"corrupt marker", func(t *testing.T, entry string, _ *Kernel) {
			if err := os.WriteFile(filepath.Join(entry, cache.MarkerName), []byte("{"), 0o644); err != nil {
				t.Fatal(err)
			}
		}},
		{"marker of another cache format", func(t *testing.T, entry string, _ *Kernel) {
			rewriteMarker(t, entry, func(m *marker) { m.Format = cacheFormat + 1 })
		}},
		{"marker escaping the entry", func(t *testing.T, entry string, _ *Kernel) {
			m := `{"format":1,"package":"p","version":"v","deb":"../x","vmlinuz":"root","modulesDir":"root"}`
			if err := os.WriteFile(filepath.Join(entry, cache.MarkerName), []byte(m), 0o644); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cacheDir := t.TempDir()
			k, err := Fetch(context.Background(), testOptions(t, cacheDir, newFakeArchive(t)))
			if err != nil {
				t.Fatal(err)
			}
			entry := filepath.Dir(k.Deb)
			junk := filepath.Join(entry, "junk")
			if err := os.WriteFile(junk, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			tt.damage(t, entry, k)

			fake := newFakeArchive(t)
			k2, err := Fetch(context.Background(), testOptions(t, cacheDir, fake))
			if err != nil {
				t.Fatal(err)
			}
			if len(fake.commands()) == 0 {
				t.Error("damaged entry was not rebuilt")
			}
			if _, err := os.Stat(junk); !os.IsNotExist(err) {
				t.Errorf("partial entry not removed before rebuild (junk: %v)", err)
			}
			if _, ok := loadCached(&cache.Entry{Dir: entry}); !ok || k2.Version != k.Version {
				t.Errorf("rebuilt entry not usable: %+v", k2)
			}
		})
	}
}

func TestFetchFailureLeavesNoMarker(t *testing.T) {
	for _, step := range []string{"update", "show", "download", "dpkg-deb"} {
		t.Run(step, func(t *testing.T) {
			cacheDir := t.TempDir()
			fake := newFakeArchive(t)
			fake.failOn = step
			_, err := Fetch(context.Background(), testOptions(t, cacheDir, fake))
			if err == nil || !strings.Contains(err.Error(), "fetch kernel linux-image-amd64 (trixie)") {
				t.Fatalf("want a wrapped error, got %v", err)
			}
			markers, _ := filepath.Glob(filepath.Join(cacheDir, "kernel", "*", cache.MarkerName))
			if len(markers) != 0 {
				t.Errorf("failed fetch left a marker: %v", markers)
			}
		})
	}
}

func TestFetchUnknownPackage(t *testing.T) {
	opts := testOptions(t, t.TempDir(), newFakeArchive(t))
	opts.Package = "linux-image-nonexistent"
	if _, err := Fetch(context.Background(), opts); err == nil {
		t.Fatal("want an error for a package apt does not know")
	}
}

func TestFetchNeedsCacheDir(t *testing.T) {
	if _, err := Fetch(context.Background(), Options{Runner: refuseRunner{t}}); err == nil {
		t.Fatal("want an error without a cache directory")
	}
}

func TestFetchHonoursCancelledLock(t *testing.T) {
	cacheDir := t.TempDir()
	opts := testOptions(t, cacheDir, refuseRunner{t})
	o, _ := opts.withDefaults()
	if err := os.MkdirAll(filepath.Join(cacheDir, "kernel"), 0o755); err != nil {
		t.Fatal(err)
	}
	unlock, err := cache.Lock(context.Background(), filepath.Join(cacheDir, "kernel", cacheKey(o.Suite, o.Package, o.Arch)+".lock"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Fetch(ctx, opts); err == nil {
		t.Fatal("want an error while another fetch holds the lock")
	}
}

func mustRemove(t *testing.T, p string) {
	t.Helper()
	if err := os.RemoveAll(p); err != nil {
		t.Fatal(err)
	}
}

func TestCacheKey(t *testing.T) {
	base := cacheKey("trixie", "linux-image-amd64", "amd64")
	if len(base) != 16 {
		t.Errorf("key %q: want 16 hex digits", base)
	}
	for _, other := range []string{
		cacheKey("forky", "linux-image-amd64", "amd64"),
		cacheKey("trixie", "linux-image-cloud-amd64", "amd64"),
		cacheKey("trixie", "linux-image-amd64", "arm64"),
		cacheKey("trixie", "linux-image-amd64a", "md64"),
	} {
		if other == base {
			t.Errorf("key collision: %q", other)
		}
	}
	if cacheKey("trixie", "linux-image-amd64", "amd64") != base {
		t.Error("key is not stable")
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
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
}
