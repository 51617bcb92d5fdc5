package debkernel

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/runxen/runxen/kernel/kmod/kmodtest"
)

// fakeArchive stands in for apt-get, apt-cache, apt-config and dpkg-deb.
type fakeArchive struct {
	t       *testing.T
	version string            // kernel release inside the image package
	show    map[string]string // package -> apt-cache show output
	failOn  string            // fail commands whose String() contains this

	mu    sync.Mutex
	calls []string
}

func newFakeArchive(t *testing.T) *fakeArchive {
	return &fakeArchive{
		t:       t,
		version: "6.12.99+deb13-amd64",
		show: map[string]string{
			"linux-image-amd64":               "Package: linux-image-amd64\nVersion: 6.12.99-1\nDepends: linux-image-6.12.99+deb13-amd64 (= 6.12.99-1)\nDescription: meta\n long text\n",
			"linux-image-6.12.99+deb13-amd64": "Package: linux-image-6.12.99+deb13-amd64\nVersion: 6.12.99-1\nDepends: kmod, linux-base (>= 4.3~), initramfs-tools (>= 0.120+deb8u2) | linux-initramfs-tool\n\nPackage: ignored\n",
		},
	}
}

func (f *fakeArchive) Run(_ context.Context, c Cmd) ([]byte, error) {
	f.mu.Lock()
	f.calls = append(f.calls, c.Name+" "+strings.Join(c.Args, " "))
	f.mu.Unlock()
	if f.failOn != "" && strings.Contains(c.String(), f.failOn) {
		return nil, fmt.Errorf("%s: injected failure", c)
	}
	if c.Name != "apt-config" && c.Name != "dpkg-deb" {
		f.checkAptConfig(c)
	}
	switch {
	case c.Name == "apt-config":
		return []byte("Acquire::Languages \"none\";\nAcquire::http::Proxy \"http://proxy.example:3128\";\n"), nil
	case c.Name == "apt-get" && slices.Contains(c.Args, "update"):
		return nil, nil
	case c.Name == "apt-cache":
		pkg := c.Args[len(c.Args)-1]
		out, ok := f.show[pkg]
		if !ok {
			return nil, fmt.Errorf("E: No packages found")
		}
		return []byte(out), nil
	case c.Name == "apt-get" && slices.Contains(c.Args, "download"):
		pkg := c.Args[len(c.Args)-1]
		return nil, os.WriteFile(filepath.Join(c.Dir, pkg+"_6.12.99-1_amd64.deb"), []byte("!<arch>\n"), 0o644)
	case c.Name == "dpkg-deb":
		dest := c.Args[2]
		mods := filepath.Join(dest, "lib/modules", f.version)
		if err := os.MkdirAll(mods, 0o755); err != nil {
			return nil, err
		}
		kmodtest.WriteTree(f.t, mods, []kmodtest.Spec{
			{Path: "kernel/fs/netfs/netfs.ko.xz"},
			{Path: "kernel/net/9p/9pnet.ko.xz", Depends: []string{"netfs"}},
		})
		if err := os.MkdirAll(filepath.Join(dest, "boot"), 0o755); err != nil {
			return nil, err
		}
		return nil, os.WriteFile(filepath.Join(dest, "boot", "vmlinuz-"+f.version), []byte("kernel"), 0o644)
	}
	return nil, fmt.Errorf("unexpected command %s", c)
}

// checkAptConfig asserts apt commands run with the private configuration.
func (f *fakeArchive) checkAptConfig(c Cmd) {
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

func (r refuseRunner) Run(_ context.Context, c Cmd) ([]byte, error) {
	r.t.Errorf("cache hit ran %s", c)
	return nil, errors.New("no commands allowed")
}

func testOptions(t *testing.T, cache string, r Runner) Options {
	keyring := filepath.Join(t.TempDir(), "keyring.gpg")
	if err := os.WriteFile(keyring, []byte("key"), 0o644); err != nil {
		t.Fatal(err)
	}
	return Options{
		Mirror:   "http://mirror.example/debian",
		CacheDir: cache,
		Keyring:  keyring,
		Runner:   r,
		Progress: func(format string, args ...any) { t.Logf(format, args...) },
	}
}
