//go:build linux

package sharefs

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/runxen/runxen/runtime/p9"
)

func TestReadOnlyShare(t *testing.T) {
	e := newEnv(t, readOnly)
	e.writeHost("f", "content", 0o644)
	must(t, os.Mkdir(e.host("d"), 0o755))
	e.writeHost("d/g", "x", 0o644)
	must(t, os.Symlink("f", e.host("l")))
	must(t, unix.Setxattr(e.host("f"), "user.a", []byte("1"), 0))
	before := snapshot(t, filepath.Dir(e.dir), "")

	// Reads work.
	r := e.openFid(p9.ReadOnly, "f")
	if got := readAll(t, r); string(got) != "content" {
		t.Fatalf("read %q", got)
	}
	if _, err := e.mustWalk("f").GetXattr("user.a"); err != nil {
		t.Fatal(err)
	}
	if got := names(readdirAll(t, e.openFid(p9.ReadOnly, "d"), 4096)); len(got) != 3 {
		t.Fatalf("readdir %v", got)
	}
	if target, err := e.mustWalk("l").Readlink(); err != nil || target != "f" {
		t.Fatalf("readlink %q %v", target, err)
	}
	if _, err := e.root.StatFS(); err != nil {
		t.Fatal(err)
	}
	if st, err := r.Lock(0, p9.LockInfo{Type: p9.ReadLock, Start: 0, Length: 0, ProcID: 1, ClientID: "g"}); err != nil || st != p9.LockOK {
		t.Fatalf("read lock: %v %v", st, err)
	}
	must(t, r.FSync(false))

	// Every write-type operation: EROFS.
	f := e.mustWalk("f")
	ops := map[string]error{}
	for _, fl := range []p9.OpenFlags{p9.WriteOnly, p9.ReadWrite} {
		_, _, err := e.mustWalk("f").Open(fl)
		ops["open for writing"] = err
	}
	_, _, _, err := e.dirFid().Create("new", p9.ReadWrite, 0o644, p9.NoGID)
	ops["create"] = err
	_, err = e.root.Mkdir("new", 0o755, p9.NoGID)
	ops["mkdir"] = err
	_, err = e.root.Symlink("f", "new", p9.NoGID)
	ops["symlink"] = err
	_, err = e.root.Mknod("new", p9.ModeNamedPipe|0o644, 0, 0, p9.NoGID)
	ops["mknod"] = err
	ops["link"] = e.root.Link(f, "new")
	ops["rename"] = e.root.RenameAt("f", e.root, "new")
	ops["unlink"] = e.root.UnlinkAt("f", 0)
	ops["rmdir"] = e.mustWalk("d").UnlinkAt("g", 0)
	ops["chmod"] = f.SetAttr(p9.SetAttrMode, p9.SetAttr{Mode: 0o777})
	ops["chown"] = f.SetAttr(p9.SetAttrUID, p9.SetAttr{UID: 1})
	ops["truncate"] = f.SetAttr(p9.SetAttrSize, p9.SetAttr{})
	ops["utimes"] = f.SetAttr(p9.SetAttrMTime, p9.SetAttr{})
	ops["setxattr"] = f.SetXattr("user.b", []byte("2"), 0)
	ops["removexattr"] = f.RemoveXattr("user.a")
	for op, err := range ops {
		if err == nil {
			t.Errorf("%s succeeded on a read-only share", op)
			continue
		}
		wantErrno(t, err, unix.EROFS)
	}
	// A write lock needs a descriptor open for writing, which a read-only
	// share never gives.
	_, err = r.Lock(0, p9.LockInfo{Type: p9.WriteLock, Start: 0, Length: 0, ProcID: 1, ClientID: "g"})
	wantErrno(t, err, unix.EBADF)

	if after := snapshot(t, filepath.Dir(e.dir), ""); !equalSnap(before, after) {
		t.Fatalf("read-only share changed:\n%s", diffSnap(before, after))
	}
}
