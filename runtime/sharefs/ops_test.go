//go:build linux

package sharefs

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/runxen/runxen/runtime/p9"
)

func readAll(t testing.TB, f p9.File) []byte {
	t.Helper()
	var out []byte
	buf := make([]byte, 4096)
	for off := int64(0); ; {
		n, err := f.ReadAt(buf, off)
		out = append(out, buf[:n]...)
		off += int64(n)
		if err == io.EOF || (err == nil && n == 0) {
			return out
		}
		must(t, err)
	}
}

func writeAll(t testing.TB, f p9.File, p []byte, off int64) {
	t.Helper()
	n, err := f.WriteAt(p, off)
	must(t, err)
	if n != len(p) {
		t.Fatalf("wrote %d of %d bytes", n, len(p))
	}
}

// openFid walks to names and opens the result.
func (e *env) openFid(flags p9.OpenFlags, names ...string) p9.File {
	e.t.Helper()
	f := e.mustWalk(names...)
	_, _, err := f.Open(flags)
	must(e.t, err)
	return f
}

func readdirAll(t testing.TB, d p9.File, count uint32) []p9.Dirent {
	t.Helper()
	var all []p9.Dirent
	var off uint64
	for {
		ents, err := d.Readdir(off, count)
		if err != nil && err != io.EOF {
			t.Fatal(err)
		}
		if len(ents) == 0 {
			return all
		}
		all = append(all, ents...)
		off = ents[len(ents)-1].Offset
	}
}

func names(ents []p9.Dirent) []string {
	var out []string
	for _, d := range ents {
		out = append(out, d.Name)
	}
	sort.Strings(out)
	return out
}

func TestOperations(t *testing.T) {
	tests := []struct {
		name string
		root bool // needs root
		run  func(t *testing.T, e *env)
	}{
		{"create write read", false, func(t *testing.T, e *env) {
			f := e.create("f", 0o640)
			writeAll(t, f, []byte("hello, world"), 0)
			writeAll(t, f, []byte("WORLD"), 7)
			b, err := os.ReadFile(e.host("f"))
			must(t, err)
			if string(b) != "hello, WORLD" {
				t.Fatalf("host content %q", b)
			}
			if st := lstat(t, e.host("f")); st.Mode != unix.S_IFREG|0o640 {
				t.Fatalf("mode %o, want exactly 0640 (the server's umask must not apply)", st.Mode)
			}
			r := e.openFid(p9.ReadOnly, "f")
			if got := readAll(t, r); string(got) != "hello, WORLD" {
				t.Fatalf("read %q", got)
			}
			buf := make([]byte, 10)
			if n, err := r.ReadAt(buf, 100); n != 0 || (err != nil && err != io.EOF) {
				t.Fatalf("read past EOF: %d, %v", n, err)
			}
			_, err = r.WriteAt([]byte("x"), 0)
			wantErrno(t, err, unix.EBADF) // opened read-only, as write(2) says
		}},
		{"create exact modes", false, func(t *testing.T, e *env) {
			for _, mode := range []p9.FileMode{0o777, 0o000, 0o4755, 0o2711, 0o1777} {
				name := fmt.Sprintf("m%o", mode)
				e.create(name, mode)
				if st := lstat(t, e.host(name)); st.Mode&0o7777 != uint32(mode) {
					t.Errorf("%s: host mode %o, want %o", name, st.Mode&0o7777, mode)
				}
			}
		}},
		{"create existing fails", false, func(t *testing.T, e *env) {
			e.writeHost("f", "x", 0o644)
			_, _, _, err := e.dirFid().Create("f", p9.ReadWrite, 0o644, p9.NoGID)
			wantErrno(t, err, unix.EEXIST)
		}},
		{"mkdir and readdir", false, func(t *testing.T, e *env) {
			_, err := e.root.Mkdir("d", 0o750, p9.NoGID)
			must(t, err)
			if st := lstat(t, e.host("d")); st.Mode != unix.S_IFDIR|0o750 {
				t.Fatalf("mode %o", st.Mode)
			}
			for i := range 300 {
				e.writeHost(fmt.Sprintf("d/file-%03d", i), "", 0o644)
			}
			d := e.openFid(p9.ReadOnly, "d")
			// A small count makes many round trips.
			got := names(readdirAll(t, d, 512))
			if len(got) != 302 || got[0] != "." || got[1] != ".." || got[2] != "file-000" {
				t.Fatalf("readdir: %d entries, first %q", len(got), got[:3])
			}
			for i, n := range got[2:] {
				if n != fmt.Sprintf("file-%03d", i) {
					t.Fatalf("entry %d = %q", i, n)
				}
			}
		}},
		{"readdir offsets stable while the directory changes", false, func(t *testing.T, e *env) {
			must(t, os.Mkdir(e.host("d"), 0o755))
			for i := range 200 {
				e.writeHost(fmt.Sprintf("d/keep-%03d", i), "", 0o644)
			}
			d := e.openFid(p9.ReadOnly, "d")
			first, err := d.Readdir(0, 1024)
			must(t, err)
			// Change the directory between calls.
			for i := range 50 {
				e.writeHost(fmt.Sprintf("d/new-%03d", i), "", 0o644)
			}
			seen := map[string]int{}
			for _, ent := range first {
				seen[ent.Name]++
			}
			for _, ent := range readdirFrom(t, d, first[len(first)-1].Offset) {
				seen[ent.Name]++
			}
			for i := range 200 {
				if n := seen[fmt.Sprintf("keep-%03d", i)]; n != 1 {
					t.Fatalf("keep-%03d seen %d times", i, n)
				}
			}
			// Re-reading from the start sees everything once.
			all := names(readdirAll(t, d, 4096))
			if len(all) != 252 {
				t.Fatalf("second pass: %d entries", len(all))
			}
		}},
		{"rename and renameat", false, func(t *testing.T, e *env) {
			e.writeHost("a", "A", 0o644)
			e.writeHost("b", "B", 0o644)
			must(t, os.Mkdir(e.host("sub"), 0o755))
			must(t, e.root.RenameAt("a", e.mustWalk("sub"), "a2"))
			if exists(e.host("a")) || !exists(e.host("sub/a2")) {
				t.Fatal("renameat across directories did not move the file")
			}
			// Over an existing file: replaced.
			must(t, e.mustWalk("sub").RenameAt("a2", e.root, "b"))
			if b, _ := os.ReadFile(e.host("b")); string(b) != "A" {
				t.Fatalf("b = %q after rename over it", b)
			}
			// A fid follows its file through a rename.
			f := e.mustWalk("b")
			must(t, e.root.RenameAt("b", e.root, "c"))
			_, _, err := f.Open(p9.ReadOnly)
			must(t, err)
			if got := readAll(t, f); string(got) != "A" {
				t.Fatalf("read through renamed fid: %q", got)
			}
			// Directory over a non-empty directory: ENOTEMPTY (not EEXIST).
			must(t, os.MkdirAll(e.host("x/y"), 0o755))
			must(t, os.MkdirAll(e.host("z/w"), 0o755))
			wantErrno(t, e.root.RenameAt("x", e.root, "z"), unix.ENOTEMPTY)
		}},
		{"chmod keeps setuid setgid sticky", false, func(t *testing.T, e *env) {
			e.writeHost("f", "x", 0o644)
			f := e.mustWalk("f")
			for _, mode := range []p9.FileMode{0o4755, 0o2755, 0o1777, 0o6711, 0o000} {
				must(t, f.SetAttr(p9.SetAttrMode, p9.SetAttr{Mode: mode}))
				if st := lstat(t, e.host("f")); st.Mode&0o7777 != uint32(mode) {
					t.Fatalf("mode %o, want %o", st.Mode&0o7777, mode)
				}
			}
		}},
		{"chown", true, func(t *testing.T, e *env) {
			e.writeHost("f", "x", 0o644)
			f := e.mustWalk("f")
			must(t, f.SetAttr(p9.SetAttrUID|p9.SetAttrGID, p9.SetAttr{UID: 1234, GID: 5678}))
			if st := lstat(t, e.host("f")); st.Uid != 1234 || st.Gid != 5678 {
				t.Fatalf("owner %d:%d", st.Uid, st.Gid)
			}
			// Owner and setuid mode in one request: the mode survives
			// (chown first, which would clear it, then chmod).
			must(t, f.SetAttr(p9.SetAttrUID|p9.SetAttrMode, p9.SetAttr{UID: 42, Mode: 0o4755}))
			if st := lstat(t, e.host("f")); st.Uid != 42 || st.Mode&0o7777 != 0o4755 {
				t.Fatalf("owner %d mode %o", st.Uid, st.Mode&0o7777)
			}
			_, _, _, err := f.GetAttr(p9.AttrAll)
			must(t, err)
		}},
		{"files belong to the attaching user", true, func(t *testing.T, e *env) {
			_, root := connect(t, e.share, 1000)
			_, d, err := root.Walk(nil)
			must(t, err)
			_, _, _, err = d.Create("mine", p9.WriteOnly, 0o600, 1001)
			must(t, err)
			if st := lstat(t, e.host("mine")); st.Uid != 1000 || st.Gid != 1001 || st.Mode&0o7777 != 0o600 {
				t.Fatalf("owner %d:%d mode %o, want 1000:1001 0600", st.Uid, st.Gid, st.Mode&0o7777)
			}
			_, err = root.Mkdir("dir", 0o2775, 1001)
			must(t, err)
			_, err = root.Symlink("mine", "sym", 1001)
			must(t, err)
			_, err = root.Mknod("fifo", p9.ModeNamedPipe|0o640, 0, 0, 1001)
			must(t, err)
			for name, mode := range map[string]uint32{"dir": 0o2775, "fifo": 0o640} {
				if st := lstat(t, e.host(name)); st.Uid != 1000 || st.Gid != 1001 || st.Mode&0o7777 != mode {
					t.Errorf("%s: owner %d:%d mode %o", name, st.Uid, st.Gid, st.Mode&0o7777)
				}
			}
			if st := lstat(t, e.host("sym")); st.Uid != 1000 || st.Gid != 1001 {
				t.Errorf("symlink owner %d:%d", st.Uid, st.Gid)
			}
		}},
		{"mkdir in a setgid directory keeps setgid", false, func(t *testing.T, e *env) {
			must(t, os.Mkdir(e.host("g"), 0o755))
			must(t, unix.Chmod(e.host("g"), 0o2775))
			_, err := e.mustWalk("g").Mkdir("sub", 0o755, p9.NoGID)
			must(t, err)
			if st := lstat(t, e.host("g/sub")); st.Mode&0o7777 != 0o2755 {
				t.Fatalf("mode %o, want 2755", st.Mode&0o7777)
			}
		}},
		{"symlink and readlink", false, func(t *testing.T, e *env) {
			for name, target := range map[string]string{"abs": "/etc/passwd", "rel": "../../x", "dangling": "nope"} {
				_, err := e.root.Symlink(target, name, p9.NoGID)
				must(t, err)
				if got, err := os.Readlink(e.host(name)); err != nil || got != target {
					t.Fatalf("host readlink %s = %q, %v", name, got, err)
				}
				got, err := e.mustWalk(name).Readlink()
				must(t, err)
				if got != target {
					t.Fatalf("readlink %s = %q", name, got)
				}
			}
			_, err := e.mustWalk().Readlink()
			wantErrno(t, err, unix.EINVAL)
		}},
		{"hard link", false, func(t *testing.T, e *env) {
			e.writeHost("f", "data", 0o644)
			must(t, e.root.Link(e.mustWalk("f"), "g"))
			a, b := lstat(t, e.host("f")), lstat(t, e.host("g"))
			if a.Ino != b.Ino || a.Nlink != 2 {
				t.Fatalf("link: inodes %d %d nlink %d", a.Ino, b.Ino, a.Nlink)
			}
			must(t, os.Mkdir(e.host("d"), 0o755))
			wantErrno(t, e.root.Link(e.mustWalk("d"), "dlink"), unix.EPERM)
		}},
		{"unlink and rmdir", false, func(t *testing.T, e *env) {
			e.writeHost("f", "x", 0o644)
			must(t, os.MkdirAll(e.host("d/e"), 0o755))
			must(t, e.root.UnlinkAt("f", 0))
			if exists(e.host("f")) {
				t.Fatal("unlink left the file")
			}
			wantErrno(t, e.root.UnlinkAt("f", 0), unix.ENOENT)
			wantErrno(t, e.root.UnlinkAt("d", unix.AT_REMOVEDIR), unix.ENOTEMPTY)
			wantErrno(t, e.root.UnlinkAt("d", 0), unix.EISDIR)
			must(t, e.mustWalk("d").UnlinkAt("e", unix.AT_REMOVEDIR))
			must(t, e.root.UnlinkAt("d", unix.AT_REMOVEDIR))
			wantErrno(t, e.root.UnlinkAt("x", 0x8000), unix.EINVAL)
		}},
		{"setattr size", false, func(t *testing.T, e *env) {
			e.writeHost("f", "0123456789", 0o644)
			f := e.mustWalk("f")
			must(t, f.SetAttr(p9.SetAttrSize, p9.SetAttr{Size: 3}))
			must(t, f.SetAttr(p9.SetAttrSize, p9.SetAttr{Size: 6}))
			if b, _ := os.ReadFile(e.host("f")); !bytes.Equal(b, []byte("012\x00\x00\x00")) {
				t.Fatalf("content %q", b)
			}
			// Through an open writable fid too.
			w := e.openFid(p9.ReadWrite, "f")
			must(t, w.SetAttr(p9.SetAttrSize, p9.SetAttr{Size: 1}))
			if st := lstat(t, e.host("f")); st.Size != 1 {
				t.Fatalf("size %d", st.Size)
			}
			must(t, os.Mkdir(e.host("d"), 0o755))
			wantErrno(t, e.mustWalk("d").SetAttr(p9.SetAttrSize, p9.SetAttr{}), unix.EISDIR)
		}},
		{"setattr times", false, func(t *testing.T, e *env) {
			e.writeHost("f", "x", 0o644)
			f := e.mustWalk("f")
			must(t, f.SetAttr(p9.SetAttrATime|p9.SetAttrMTime|p9.SetAttrATimeSet|p9.SetAttrMTimeSet,
				p9.SetAttr{ATimeSec: 1000, ATimeNsec: 5, MTimeSec: 2000, MTimeNsec: 7}))
			st := lstat(t, e.host("f"))
			if st.Atim.Sec != 1000 || st.Atim.Nsec != 5 || st.Mtim.Sec != 2000 || st.Mtim.Nsec != 7 {
				t.Fatalf("times %v %v", st.Atim, st.Mtim)
			}
			// Without NotSystemTime: "now" (the host's clock), mtime only.
			must(t, f.SetAttr(p9.SetAttrMTime, p9.SetAttr{}))
			st = lstat(t, e.host("f"))
			if st.Atim.Sec != 1000 || time.Since(time.Unix(st.Mtim.Sec, 0)) > time.Hour {
				t.Fatalf("after 'now': atime %d mtime %d", st.Atim.Sec, st.Mtim.Sec)
			}
			_, _, attr, err := f.GetAttr(p9.AttrAll)
			must(t, err)
			if attr.ATimeSec != 1000 || attr.MTimeSec != uint64(st.Mtim.Sec) {
				t.Fatalf("getattr times %+v", attr)
			}
		}},
		{"getattr", false, func(t *testing.T, e *env) {
			e.writeHost("f", "12345", 0o600)
			qid, valid, attr, err := e.mustWalk("f").GetAttr(p9.AttrAll)
			must(t, err)
			st := lstat(t, e.host("f"))
			if !valid.Has(p9.AttrMode) || attr.Mode != p9.FileMode(st.Mode) || attr.Size != 5 || attr.NLink != 1 ||
				attr.UID != p9.UID(st.Uid) || qid.Path != st.Ino || qid.Type != p9.TypeRegular {
				t.Fatalf("getattr %v %+v, host %+v", qid, attr, st)
			}
		}},
		{"statfs", false, func(t *testing.T, e *env) {
			fs, err := e.root.StatFS()
			must(t, err)
			var st unix.Statfs_t
			must(t, unix.Statfs(e.dir, &st))
			if fs.Type != uint32(st.Type) || fs.BlockSize != uint32(st.Bsize) || fs.Blocks != st.Blocks || fs.NameLength != 255 {
				t.Fatalf("statfs %+v, host %+v", fs, st)
			}
		}},
		{"fsync", false, func(t *testing.T, e *env) {
			f := e.create("f", 0o644)
			writeAll(t, f, []byte("durable"), 0)
			must(t, f.FSync(false))
			wantErrno(t, e.mustWalk("f").FSync(false), unix.EBADF) // not open
			must(t, f.FSync(true))
		}},
		{"xattrs", false, func(t *testing.T, e *env) {
			e.writeHost("f", "x", 0o644)
			f := e.mustWalk("f")
			must(t, f.SetXattr("user.color", []byte("blue"), 0))
			buf := make([]byte, 64)
			n, err := unix.Getxattr(e.host("f"), "user.color", buf)
			must(t, err)
			if string(buf[:n]) != "blue" {
				t.Fatalf("host value %q", buf[:n])
			}
			v, err := f.GetXattr("user.color")
			must(t, err)
			if string(v) != "blue" {
				t.Fatalf("get %q", v)
			}
			wantErrno(t, f.SetXattr("user.color", []byte("red"), p9.XattrCreate), unix.EEXIST)
			must(t, f.SetXattr("user.color", []byte("red"), p9.XattrReplace))
			must(t, f.SetXattr("user.empty", nil, 0))
			names, err := f.ListXattrs()
			must(t, err)
			sort.Strings(names)
			if fmt.Sprint(names) != "[user.color user.empty]" {
				t.Fatalf("list %v", names)
			}
			must(t, f.RemoveXattr("user.color"))
			_, err = f.GetXattr("user.color")
			wantErrno(t, err, unix.ENODATA)
			// Sizes and namespaces.
			wantErrno(t, f.SetXattr("user.big", make([]byte, 65<<10), 0), unix.E2BIG)
			wantErrno(t, f.SetXattr("trusted.overlay.opaque", []byte("y"), 0), unix.EPERM)
			wantErrno(t, f.SetXattr("security.selinux", []byte("x"), 0), unix.EPERM)
			wantErrno(t, f.SetXattr("other.x", []byte("x"), 0), unix.EOPNOTSUPP)
			_, err = f.GetXattr("other.x")
			wantErrno(t, err, unix.EOPNOTSUPP)
			// A file without xattrs lists nothing (not one empty name).
			e.writeHost("plain", "", 0o644)
			names, err = e.mustWalk("plain").ListXattrs()
			must(t, err)
			if len(names) != 0 {
				t.Fatalf("plain file lists %q", names)
			}
		}},
		{"xattrs of dom0 namespaces are hidden", true, func(t *testing.T, e *env) {
			e.writeHost("f", "x", 0o644)
			must(t, unix.Setxattr(e.host("f"), "trusted.overlay.opaque", []byte("y"), 0))
			must(t, unix.Setxattr(e.host("f"), "user.visible", []byte("v"), 0))
			f := e.mustWalk("f")
			names, err := f.ListXattrs()
			must(t, err)
			if fmt.Sprint(names) != "[user.visible]" {
				t.Fatalf("list %v", names)
			}
			_, err = f.GetXattr("trusted.overlay.opaque")
			wantErrno(t, err, unix.ENODATA)
			wantErrno(t, f.RemoveXattr("trusted.overlay.opaque"), unix.EPERM)
			// File capabilities pass (docker commit keeps them).
			capV2 := []byte{0, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
			must(t, f.SetXattr("security.capability", capV2, 0))
			got, err := f.GetXattr("security.capability")
			must(t, err)
			if !bytes.Equal(got, capV2) {
				t.Fatalf("capability %x", got)
			}
		}},
		{"xattr fid does not close the file it was walked from", false, func(t *testing.T, e *env) {
			e.writeHost("f", "content", 0o644)
			must(t, unix.Setxattr(e.host("f"), "user.a", []byte("1"), 0))
			f := e.mustWalk("f")
			for range 5 {
				if _, err := f.GetXattr("user.a"); err != nil {
					t.Fatal(err)
				}
				if _, err := f.ListXattrs(); err != nil {
					t.Fatal(err)
				}
			}
			// An xattr fid holds only the value: clunking it must not close
			// the File of the fid it was walked from.
			_, _, err := f.Open(p9.ReadOnly)
			must(t, err)
			if got := readAll(t, f); string(got) != "content" {
				t.Fatalf("read %q", got)
			}
		}},
		{"posix locks", false, func(t *testing.T, e *env) {
			e.writeHost("f", "0123456789", 0o644)
			a := e.openFid(p9.ReadWrite, "f")
			b := e.openFid(p9.ReadWrite, "f")
			st, err := a.Lock(0, p9.LockInfo{Type: p9.WriteLock, Start: 0, Length: 5, ProcID: 1, ClientID: "guest"})
			must(t, err)
			if st != p9.LockOK {
				t.Fatalf("first lock: %v", st)
			}
			// Overlapping write lock from another open: blocked.
			if st, err := b.Lock(p9.LockBlock, p9.LockInfo{Type: p9.WriteLock, Start: 3, Length: 2, ProcID: 2, ClientID: "guest"}); err != nil || st != p9.LockBlocked {
				t.Fatalf("conflicting lock: %v %v", st, err)
			}
			// Disjoint range: fine.
			if st, err := b.Lock(0, p9.LockInfo{Type: p9.WriteLock, Start: 5, Length: 5, ProcID: 2, ClientID: "guest"}); err != nil || st != p9.LockOK {
				t.Fatalf("disjoint lock: %v %v", st, err)
			}
			gl := b.(interface {
				GetLock(p9.LockInfo) (p9.LockInfo, error)
			})
			info, err := gl.GetLock(p9.LockInfo{Type: p9.ReadLock, Start: 0, Length: 0, ProcID: 2, ClientID: "guest"})
			must(t, err)
			if info.Type != p9.WriteLock || info.Start != 0 || info.Length != 5 {
				t.Fatalf("getlock %+v", info)
			}
			if st, err := a.Lock(0, p9.LockInfo{Type: p9.Unlock, Start: 0, Length: 0, ProcID: 1, ClientID: "guest"}); err != nil || st != p9.LockOK {
				t.Fatalf("unlock: %v %v", st, err)
			}
			info, err = gl.GetLock(p9.LockInfo{Type: p9.WriteLock, Start: 0, Length: 5})
			must(t, err)
			if info.Type != p9.Unlock {
				t.Fatalf("getlock after unlock %+v", info)
			}
			// Closing a fid drops its locks.
			if st, _ := a.Lock(0, p9.LockInfo{Type: p9.ReadLock, Start: 0, Length: 1, ProcID: 1, ClientID: "guest"}); st != p9.LockOK {
				t.Fatal("relock")
			}
			a.Close()
			if st, err := b.Lock(0, p9.LockInfo{Type: p9.WriteLock, Start: 0, Length: 1, ProcID: 2, ClientID: "guest"}); err != nil || st != p9.LockOK {
				t.Fatalf("lock after the holder's clunk: %v %v", st, err)
			}
			// Write lock on a read-only open: EBADF, as fcntl says.
			r := e.openFid(p9.ReadOnly, "f")
			_, err = r.Lock(0, p9.LockInfo{Type: p9.WriteLock, Start: 0, Length: 1, ProcID: 3, ClientID: "guest"})
			wantErrno(t, err, unix.EBADF)
		}},
		{"mknod fifo and socket", false, func(t *testing.T, e *env) {
			_, err := e.root.Mknod("fifo", p9.ModeNamedPipe|0o620, 0, 0, p9.NoGID)
			must(t, err)
			if st := lstat(t, e.host("fifo")); st.Mode != unix.S_IFIFO|0o620 {
				t.Fatalf("fifo mode %o", st.Mode)
			}
			_, err = e.root.Mknod("sock", p9.ModeSocket|0o600, 0, 0, p9.NoGID)
			must(t, err)
			if st := lstat(t, e.host("sock")); st.Mode != unix.S_IFSOCK|0o600 {
				t.Fatalf("socket mode %o", st.Mode)
			}
			// The server never opens a FIFO (it would block dom0).
			_, _, err = e.mustWalk("fifo").Open(p9.ReadOnly)
			wantFail(t, err, "opening a FIFO")
		}},
		{"mknod devices refused", false, func(t *testing.T, e *env) {
			for _, mode := range []p9.FileMode{p9.ModeCharacterDevice | 0o666, p9.ModeBlockDevice | 0o660} {
				_, err := e.root.Mknod("dev", mode, 1, 3, p9.NoGID)
				wantErrno(t, err, unix.EPERM)
				if exists(e.host("dev")) {
					t.Fatal("device node created")
				}
			}
			// Not even a whiteout-looking 0:0 device.
			_, err := e.root.Mknod("wh", p9.ModeCharacterDevice, 0, 0, p9.NoGID)
			wantErrno(t, err, unix.EPERM)
		}},
		{"existing device nodes are not opened", true, func(t *testing.T, e *env) {
			must(t, unix.Mknod(e.host("null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))))
			for _, fl := range []p9.OpenFlags{p9.ReadOnly, p9.WriteOnly} {
				_, _, err := e.mustWalk("null").Open(fl)
				wantErrno(t, err, unix.EPERM)
			}
		}},
		{"errnos", false, func(t *testing.T, e *env) {
			e.writeHost("f", "", 0o644)
			must(t, os.Mkdir(e.host("d"), 0o755))
			_, err := e.walk("missing")
			wantErrno(t, err, unix.ENOENT)
			_, err = e.root.Mkdir("d", 0o755, p9.NoGID)
			wantErrno(t, err, unix.EEXIST)
			_, _, err = e.mustWalk("d").Open(p9.ReadWrite)
			wantErrno(t, err, unix.EISDIR)
			_, err = e.walk("f", "x")
			wantFail(t, err, "walking below a file")
			_, err = e.root.Symlink("t", "long"+string(bytes.Repeat([]byte("x"), 300)), p9.NoGID)
			wantErrno(t, err, unix.ENAMETOOLONG)
		}},
		{"sync", false, func(t *testing.T, e *env) {
			f := e.create("f", 0o644)
			writeAll(t, f, []byte("x"), 0)
			must(t, e.share.Sync(t.Context()))
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.root {
				requireRoot(t)
			}
			tc.run(t, newEnv(t))
		})
	}
}

func readdirFrom(t testing.TB, d p9.File, off uint64) []p9.Dirent {
	t.Helper()
	var all []p9.Dirent
	for {
		ents, err := d.Readdir(off, 1024)
		if err != nil && err != io.EOF {
			t.Fatal(err)
		}
		if len(ents) == 0 {
			return all
		}
		all = append(all, ents...)
		off = ents[len(ents)-1].Offset
	}
}

// TestNoDescriptorLeaks runs a busy session and checks every host descriptor
// the server opened is closed when the connection ends.
func TestNoDescriptorLeaks(t *testing.T) {
	e := newEnv(t)
	e.writeHost("f", "x", 0o644)
	must(t, unix.Setxattr(e.host("f"), "user.a", []byte("1"), 0))
	e.stop() // the env's own connection
	before := openFDs(t)

	share, err := New(Config{Dir: e.dir})
	must(t, err)
	client, root := connect(t, share, p9.NoUID)
	for i := range 50 {
		_, f, err := root.Walk([]string{"f"})
		must(t, err)
		_, _ = f.GetXattr("user.a")
		_, _, err = f.Open(p9.ReadOnly)
		must(t, err)
		readAll(t, f)
		_, d, err := root.Walk(nil)
		must(t, err)
		nf, _, _, err := d.Create(fmt.Sprintf("n%d", i), p9.ReadWrite, 0o644, p9.NoGID)
		must(t, err)
		nf.Close()
		if i%2 == 0 {
			f.Close() // leave the rest to the end of the connection
		}
	}
	root.Close()
	client.Close()
	must(t, share.Close())
	if after := openFDs(t); after != before {
		t.Fatalf("descriptors: %d before, %d after", before, after)
	}
	_ = filepath.Join
}

// TestCloneOfCreatedFileHasItsOwnDescription: a clone of a freshly created
// (open) file must not share its open file description, or the clone would
// keep the creator's OFD locks alive after the creator's fid is gone.
func TestCloneOfCreatedFileHasItsOwnDescription(t *testing.T) {
	e := newEnv(t)
	f := e.create("f", 0o644)
	if st, err := f.Lock(0, p9.LockInfo{Type: p9.WriteLock, Start: 0, Length: 0, ProcID: 1, ClientID: "g"}); err != nil || st != p9.LockOK {
		t.Fatalf("lock: %v %v", st, err)
	}
	_, clone, err := f.Walk(nil)
	must(t, err)
	defer clone.Close()
	f.Close()
	other := e.openFid(p9.ReadWrite, "f")
	if st, err := other.Lock(0, p9.LockInfo{Type: p9.WriteLock, Start: 0, Length: 0, ProcID: 2, ClientID: "g"}); err != nil || st != p9.LockOK {
		t.Fatalf("lock after the creator's clunk: %v %v (the clone kept the lock)", st, err)
	}
	_, _, err = clone.Open(p9.ReadOnly)
	must(t, err)
}

// TestUnlinkedOpenFile: a file unlinked while open can still be read,
// written, truncated and chmodded through its open fid, as locally.
func TestUnlinkedOpenFile(t *testing.T) {
	e := newEnv(t)
	f := e.create("tmp", 0o600)
	writeAll(t, f, []byte("scratch data"), 0)
	must(t, e.root.UnlinkAt("tmp", 0))
	must(t, f.SetAttr(p9.SetAttrSize, p9.SetAttr{Size: 7}))
	must(t, f.SetAttr(p9.SetAttrMode, p9.SetAttr{Mode: 0o640}))
	_, _, attr, err := f.GetAttr(p9.AttrAll)
	must(t, err)
	if attr.Size != 7 || attr.Mode.Permissions() != 0o640 || attr.NLink != 0 {
		t.Fatalf("unlinked file attrs %+v", attr)
	}
	if got := readAll(t, f); string(got) != "scratch" {
		t.Fatalf("read %q", got)
	}
}
