//go:build linux

package sharefs

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/runxen/runxen/runtime/p9"
)

// env is a share in a temporary directory with a 9P client connected to it
// in-process, and sentinel files next to the share that no test may ever see
// changed:
//
//	base/share/       the share
//	base/outside/     secret (0640), dir/, dir/inner, link -> secret
//	base/             nothing else may appear here
type env struct {
	t       testing.TB
	base    string
	dir     string // the share
	outside string
	share   *Share
	client  *p9.Client
	root    p9.File
	before  map[string]string // snapshot of base minus the share
}

type envOpt func(*Config)

func readOnly(c *Config) { c.ReadOnly = true }

func newEnv(t testing.TB, opts ...envOpt) *env {
	t.Helper()
	base := t.TempDir()
	e := &env{t: t, base: base, dir: filepath.Join(base, "share"), outside: filepath.Join(base, "outside")}
	must(t, os.Mkdir(e.dir, 0o755))
	must(t, os.Mkdir(e.outside, 0o755))
	must(t, os.WriteFile(filepath.Join(e.outside, "secret"), []byte("dom0 secret"), 0o640))
	must(t, os.Mkdir(filepath.Join(e.outside, "dir"), 0o750))
	must(t, os.WriteFile(filepath.Join(e.outside, "dir", "inner"), []byte("inner"), 0o600))
	must(t, os.Symlink("secret", filepath.Join(e.outside, "link")))
	e.before = snapshot(t, base, e.dir)

	cfg := Config{Dir: e.dir}
	for _, o := range opts {
		o(&cfg)
	}
	e.start(cfg)
	t.Cleanup(func() {
		e.stop()
		if after := snapshot(t, base, e.dir); !equalSnap(e.before, after) {
			t.Errorf("files outside the share changed:\n%s", diffSnap(e.before, after))
		}
	})
	return e
}

// start creates the share and connects a client (attached as root).
func (e *env) start(cfg Config) {
	t := e.t
	share, err := New(cfg)
	must(t, err)
	e.share = share
	e.client, e.root = connect(t, share, p9.NoUID)
}

func (e *env) stop() {
	if e.share == nil {
		return
	}
	e.root.Close()
	e.client.Close()
	must(e.t, e.share.Close())
	e.share = nil
}

// connect serves share over an in-process pipe and attaches a client as uid.
func connect(t testing.TB, share *Share, uid p9.UID) (*p9.Client, p9.File) {
	t.Helper()
	srv, cli := net.Pipe()
	done := make(chan error, 1)
	go func() { done <- share.Serve(context.Background(), srv) }()
	client, err := p9.NewClient(cli, p9.WithMessageSize(256<<10))
	must(t, err)
	var root p9.File
	if uid == p9.NoUID {
		root, err = client.Attach("")
	} else {
		root, err = client.AttachUID("", uid)
	}
	must(t, err)
	t.Cleanup(func() {
		client.Close()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return client, root
}

// host returns the host path of a name in the share.
func (e *env) host(name string) string { return filepath.Join(e.dir, name) }

// walk walks from the root.
func (e *env) walk(names ...string) (p9.File, error) {
	_, f, err := e.root.Walk(names)
	return f, err
}

func (e *env) mustWalk(names ...string) p9.File {
	e.t.Helper()
	f, err := e.walk(names...)
	must(e.t, err)
	e.t.Cleanup(func() { f.Close() })
	return f
}

// dir returns a fresh fid for a directory (Create turns the fid it is called
// on into the new file, so each create needs its own).
func (e *env) dirFid(names ...string) p9.File { return e.mustWalk(names...) }

// create makes a file through 9P and returns it open.
func (e *env) create(name string, perm p9.FileMode, dirNames ...string) p9.File {
	e.t.Helper()
	d := e.dirFid(dirNames...)
	f, _, _, err := d.Create(name, p9.ReadWrite, perm, p9.NoGID)
	must(e.t, err)
	return f
}

func (e *env) writeHost(name, content string, mode os.FileMode) {
	e.t.Helper()
	must(e.t, os.WriteFile(e.host(name), []byte(content), mode))
	must(e.t, os.Chmod(e.host(name), mode))
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// wantErrno checks err carries the errno want.
func wantErrno(t testing.TB, err error, want unix.Errno) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("err = %v, want %v", err, want)
	}
}

// wantFail checks an operation failed (with any errno): for escape attempts
// where only the absence of an effect matters.
func wantFail(t testing.TB, err error, what string) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s succeeded, want an error", what)
	}
}

func requireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (the server runs as root in dom0): ownership changes and device nodes")
	}
}

func lstat(t testing.TB, path string) unix.Stat_t {
	t.Helper()
	var st unix.Stat_t
	must(t, unix.Lstat(path, &st))
	return st
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// snapshot records everything under base except the share: type, mode,
// owner, size, ctime (any chmod, chown, xattr change, link or write moves
// it), content hash and symlink target. Atime is left out: reading a file
// changes it, and reads are not what confinement forbids.
func snapshot(t testing.TB, base, skip string) map[string]string {
	t.Helper()
	snap := make(map[string]string)
	err := filepath.WalkDir(base, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if path == skip {
			return filepath.SkipDir
		}
		var st unix.Stat_t
		if err := unix.Lstat(path, &st); err != nil {
			return err
		}
		desc := fmt.Sprintf("mode=%o uid=%d gid=%d nlink=%d size=%d ctime=%d.%09d",
			st.Mode, st.Uid, st.Gid, st.Nlink, st.Size, st.Ctim.Sec, st.Ctim.Nsec)
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFREG:
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			desc += fmt.Sprintf(" sha256=%x", sha256.Sum256(b))
		case unix.S_IFLNK:
			target, err := os.Readlink(path)
			if err != nil {
				return err
			}
			desc += " target=" + target
		case unix.S_IFDIR:
			// Directory mtime and ctime change when entries come and go,
			// which the entry list itself shows; keep the rest.
			desc = fmt.Sprintf("dir mode=%o uid=%d gid=%d", st.Mode, st.Uid, st.Gid)
		}
		rel, _ := filepath.Rel(base, path)
		snap[rel] = desc
		return nil
	})
	must(t, err)
	return snap
}

func equalSnap(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func diffSnap(a, b map[string]string) string {
	var keys []string
	seen := map[string]bool{}
	for k := range a {
		keys, seen[k] = append(keys, k), true
	}
	for k := range b {
		if !seen[k] {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var out strings.Builder
	for _, k := range keys {
		if a[k] != b[k] {
			fmt.Fprintf(&out, "  %s:\n    before: %q\n    after:  %q\n", k, a[k], b[k])
		}
	}
	return out.String()
}

// openFDs counts this process's open descriptors.
func openFDs(t testing.TB) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	must(t, err)
	return len(ents)
}
