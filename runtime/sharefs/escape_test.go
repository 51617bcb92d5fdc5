//go:build linux

package sharefs

import (
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/runxen/runxen/runtime/p9"
)

// The escape suite: a guest that plants symlinks, walks "..", swaps
// directories for symlinks and links through symlinks must never make dom0
// read, write, chmod, chown, link or delete anything outside the share.
// Besides each test's own checks, newEnv's cleanup compares everything
// outside the share (content, mode, owner, ctime) with its state before.

// plant creates, on the host side, the links a hostile guest would make.
func (e *env) plant() {
	e.t.Helper()
	for name, target := range map[string]string{
		"toroot":      "/",
		"toetc":       "/etc",
		"tosecret":    filepath.Join(e.outside, "secret"), // absolute
		"relsecret":   "../outside/secret",
		"tooutside":   "../outside",
		"todir":       "../outside/dir",
		"dotdotchain": "../../../../../../../..",
	} {
		must(e.t, os.Symlink(target, e.host(name)))
	}
}

func TestEscapeThroughSymlinks(t *testing.T) {
	e := newEnv(t)
	e.plant()
	secret := filepath.Join(e.outside, "secret")

	for _, link := range []string{"toroot", "toetc", "tosecret", "relsecret", "tooutside", "todir", "dotdotchain"} {
		t.Run(link, func(t *testing.T) {
			// Walking to the link gives the link itself.
			l := e.mustWalk(link)
			_, _, attr, err := l.GetAttr(p9.AttrAll)
			must(t, err)
			if !attr.Mode.IsSymlink() {
				t.Fatalf("walk to %s gave mode %o, want the symlink itself", link, attr.Mode)
			}
			// Walking through it fails.
			for _, below := range []string{"passwd", "secret", "inner", "etc", "dir"} {
				if _, err := e.walk(link, below); err == nil {
					t.Fatalf("walked through %s to %s", link, below)
				}
			}
			// It cannot be opened, nor used as a directory.
			for _, fl := range []p9.OpenFlags{p9.ReadOnly, p9.WriteOnly, p9.ReadWrite} {
				_, _, err := e.mustWalk(link).Open(fl)
				wantFail(t, err, "opening a symlink")
			}
			_, _, _, err = e.mustWalk(link).Create("x", p9.ReadWrite, 0o666, p9.NoGID)
			wantFail(t, err, "create in a symlink")
			_, err = l.Mkdir("x", 0o777, p9.NoGID)
			wantFail(t, err, "mkdir in a symlink")
			_, err = l.Mknod("x", p9.ModeNamedPipe|0o666, 0, 0, p9.NoGID)
			wantFail(t, err, "mknod in a symlink")
			_, err = l.Symlink("/", "x", p9.NoGID)
			wantFail(t, err, "symlink in a symlink")
			wantFail(t, l.UnlinkAt("secret", 0), "unlink in a symlink")
			wantFail(t, l.RenameAt("secret", e.root, "stolen"), "rename out of a symlink")
			if _, err := l.Readdir(0, 4096); err == nil {
				t.Fatal("readdir of a symlink")
			}
			// Setattr acts on the link or is refused; never on the target.
			wantErrno(t, l.SetAttr(p9.SetAttrMode, p9.SetAttr{Mode: 0o777}), unix.EOPNOTSUPP)
			wantErrno(t, l.SetAttr(p9.SetAttrSize, p9.SetAttr{Size: 0}), unix.EINVAL)
			must(t, l.SetAttr(p9.SetAttrMTime|p9.SetAttrMTimeSet, p9.SetAttr{MTimeSec: 12345}))
			if st := lstat(t, e.host(link)); st.Mtim.Sec != 12345 {
				t.Fatalf("link mtime %d", st.Mtim.Sec)
			}
			// Xattrs are the link's own (Linux refuses user.* on links).
			wantFail(t, l.SetXattr("user.x", []byte("x"), 0), "user xattr on a symlink")
			_, err = l.GetXattr("user.x")
			wantFail(t, err, "reading a symlink target's xattr")
			// Readlink gives the text, untouched.
			target, err := l.Readlink()
			must(t, err)
			if host, _ := os.Readlink(e.host(link)); target != host {
				t.Fatalf("readlink %q, host %q", target, host)
			}
		})
	}
	t.Run("chown acts on the link", func(t *testing.T) {
		requireRoot(t)
		l := e.mustWalk("tosecret")
		must(t, l.SetAttr(p9.SetAttrUID|p9.SetAttrGID, p9.SetAttr{UID: 4321, GID: 4321}))
		if st := lstat(t, e.host("tosecret")); st.Uid != 4321 {
			t.Fatalf("link owner %d", st.Uid)
		}
		if st := lstat(t, secret); st.Uid == 4321 {
			t.Fatal("chown went through the symlink")
		}
	})
	t.Run("names that are symlinks are not followed by creation", func(t *testing.T) {
		for _, link := range []string{"tosecret", "relsecret", "todir", "tooutside"} {
			_, _, _, err := e.dirFid().Create(link, p9.ReadWrite|p9.OpenTruncate, 0o666, p9.NoGID)
			wantErrno(t, err, unix.EEXIST)
			_, err = e.root.Mkdir(link, 0o777, p9.NoGID)
			wantErrno(t, err, unix.EEXIST)
			_, err = e.root.Mknod(link, p9.ModeNamedPipe|0o666, 0, 0, p9.NoGID)
			wantErrno(t, err, unix.EEXIST)
			_, err = e.root.Symlink("/", link, p9.NoGID)
			wantErrno(t, err, unix.EEXIST)
		}
	})
	t.Run("unlink and rename move the link, not the target", func(t *testing.T) {
		must(t, e.root.RenameAt("relsecret", e.root, "moved"))
		must(t, e.root.UnlinkAt("moved", 0))
		must(t, e.root.UnlinkAt("todir", 0))
		if !exists(secret) || !exists(filepath.Join(e.outside, "dir", "inner")) {
			t.Fatal("target removed")
		}
	})
}

func TestEscapeDotDotAndBadNames(t *testing.T) {
	e := newEnv(t)
	e.writeHost("f", "x", 0o644)
	must(t, os.Mkdir(e.host("d"), 0o755))
	bad := []string{"..", ".", "", "../outside", "a/b", "/", "/etc", "d/../..", "x\x00y", "..\x00"}
	for _, name := range bad {
		if _, err := e.walk(name); err == nil {
			t.Errorf("walk %q succeeded", name)
		}
		if _, err := e.walk("d", name); err == nil {
			t.Errorf("walk d/%q succeeded", name)
		}
		_, _, _, err := e.dirFid().Create(name, p9.ReadWrite, 0o644, p9.NoGID)
		wantFail(t, err, "create "+strconv.Quote(name))
		_, err = e.root.Mkdir(name, 0o755, p9.NoGID)
		wantFail(t, err, "mkdir "+strconv.Quote(name))
		_, err = e.root.Symlink("/", name, p9.NoGID)
		wantFail(t, err, "symlink "+strconv.Quote(name))
		_, err = e.root.Mknod(name, p9.ModeNamedPipe|0o644, 0, 0, p9.NoGID)
		wantFail(t, err, "mknod "+strconv.Quote(name))
		wantFail(t, e.root.Link(e.mustWalk("f"), name), "link "+strconv.Quote(name))
		wantFail(t, e.root.RenameAt("f", e.root, name), "rename to "+strconv.Quote(name))
		wantFail(t, e.root.RenameAt(name, e.root, "g"), "rename from "+strconv.Quote(name))
		wantFail(t, e.root.UnlinkAt(name, 0), "unlink "+strconv.Quote(name))
		wantFail(t, e.root.UnlinkAt(name, unix.AT_REMOVEDIR), "rmdir "+strconv.Quote(name))
	}
	// Many ".." in one walk, and walks deeper than the protocol allows.
	if _, err := e.walk("..", "..", "..", "etc"); err == nil {
		t.Fatal("walk ../../../etc succeeded")
	}
	// A walk of more names than the protocol allows is a violation that
	// ends the connection (the client refuses to send one).
	deep := make([]string, 17)
	for i := range deep {
		deep[i] = "d"
	}
	if _, err := e.walk(deep...); err == nil {
		t.Fatal("client sent a walk of 17 names")
	}
	rc := dialRaw(t, e.share)
	rc.handshake(8192)
	go rc.send(walkMsg(2, 0, 1, deep...))
	rc.closedByServer()
	// The share's root reports itself as its own parent in readdir.
	d := e.openFid(p9.ReadOnly)
	var rootIno uint64
	for _, ent := range readdirAll(t, d, 4096) {
		if ent.Name == "." {
			rootIno = ent.QID.Path
		}
		if ent.Name == ".." && ent.QID.Path != lstat(t, e.dir).Ino {
			t.Fatalf(".. of the share root has inode %d (the host parent leaks)", ent.QID.Path)
		}
	}
	if rootIno != lstat(t, e.dir).Ino {
		t.Fatal("no . entry")
	}
}

// TestEscapeDirectorySwappedForSymlink: a fid keeps its directory even when
// the guest (or anyone) renames it away and puts a symlink to dom0 in its
// place; everything done through the fid stays in the original directory.
func TestEscapeDirectorySwappedForSymlink(t *testing.T) {
	e := newEnv(t)
	must(t, os.Mkdir(e.host("d"), 0o755))
	e.writeHost("d/f", "inside", 0o644)
	dfid := e.mustWalk("d")
	ffid := e.mustWalk("d", "f")

	must(t, os.Rename(e.host("d"), e.host("d.orig")))
	must(t, os.Symlink("../outside", e.host("d")))
	must(t, os.Rename(e.host("d.orig/f"), e.host("d.orig/f.orig")))
	must(t, os.Symlink(filepath.Join(e.outside, "secret"), e.host("d.orig/f")))

	// Walking from the held fid sees the original directory, not dom0's.
	if _, _, err := dfid.Walk([]string{"secret"}); err == nil {
		t.Fatal("walk from the swapped directory reached outside")
	}
	// Creating through it creates in the original directory.
	_, cf, err := dfid.Walk(nil)
	must(t, err)
	_, _, _, err = cf.Create("new", p9.ReadWrite, 0o644, p9.NoGID)
	must(t, err)
	if !exists(e.host("d.orig/new")) || exists(filepath.Join(e.outside, "new")) {
		t.Fatal("create through a swapped directory went elsewhere")
	}
	// Opening the held file fid opens the original inode, never the
	// symlink now carrying its name (nor, a fortiori, dom0's secret).
	_, _, err = ffid.Open(p9.ReadWrite)
	must(t, err)
	writeAll(t, ffid, []byte("written"), 0)
	if b, _ := os.ReadFile(e.host("d.orig/f.orig")); string(b) != "written" {
		t.Fatalf("original file has %q", b)
	}
	must(t, ffid.SetAttr(p9.SetAttrMode|p9.SetAttrSize, p9.SetAttr{Mode: 0o777, Size: 1}))
	if st := lstat(t, e.host("d.orig/f.orig")); st.Mode&0o777 != 0o777 || st.Size != 1 {
		t.Fatalf("setattr reached mode %o size %d", st.Mode&0o777, st.Size)
	}
	// Renaming and unlinking through the held fid act in the original.
	must(t, dfid.RenameAt("f", dfid, "g"))
	must(t, dfid.UnlinkAt("g", 0))
	must(t, dfid.SetXattr("user.tag", []byte("1"), 0))
}

// TestEscapeSwapRace swaps a directory and a symlink to dom0 back and forth
// on the host while the client walks into it, opens, writes, creates,
// chmods, truncates, links and removes. Bounded; every operation either
// fails or lands in the share, which the env's cleanup checks (nothing
// outside changed or appeared).
func TestEscapeSwapRace(t *testing.T) {
	e := newEnv(t)
	must(t, os.Mkdir(e.host("real"), 0o755))
	e.writeHost("real/secret", "inside", 0o644)
	e.writeHost("real/inner", "inside", 0o644)
	must(t, os.Symlink("../outside/dir", e.host("d")))

	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		// Atomically exchange "d" and "real", so "d" flips between the
		// real directory and a symlink to a dom0 directory, as an
		// attacker with a second process in the guest would make it.
		for {
			select {
			case <-stop:
				return
			default:
			}
			if err := unix.Renameat2(unix.AT_FDCWD, e.host("d"), unix.AT_FDCWD, e.host("real"), unix.RENAME_EXCHANGE); err != nil {
				t.Error(err)
				return
			}
		}
	}()

	const rounds = 400
	var walked, opened int
	for i := range rounds {
		name := "x" + strconv.Itoa(i%7)
		if f, err := e.walk("d", "secret"); err == nil {
			walked++
			if _, _, err := f.Open(p9.ReadWrite); err == nil {
				opened++
				f.WriteAt([]byte("guest"), 0)
			}
			f.SetAttr(p9.SetAttrMode|p9.SetAttrSize|p9.SetAttrUID, p9.SetAttr{Mode: 0o777, Size: 1, UID: 777})
			f.SetXattr("user.x", []byte("1"), 0)
			f.Close()
		}
		if f, err := e.walk("d", "inner"); err == nil {
			e.root.Link(f, "l"+name)
			f.Close()
		}
		if d, err := e.walk("d"); err == nil {
			if nf, _, _, err := d.Create(name, p9.ReadWrite, 0o666, p9.NoGID); err == nil {
				nf.Close()
			} else {
				d.Close()
			}
		}
		if d, err := e.walk("d"); err == nil {
			d.Mkdir("m"+name, 0o777, p9.NoGID)
			d.Mknod("p"+name, p9.ModeNamedPipe|0o666, 0, 0, p9.NoGID)
			d.Symlink("/", "s"+name, p9.NoGID)
			d.UnlinkAt(name, 0)
			d.UnlinkAt("inner", 0)
			d.RenameAt("secret", e.root, "stolen")
			e.root.RenameAt("stolen", d, "secret")
			d.Close()
		}
	}
	close(stop)
	wg.Wait()
	// How often the race went each way varies from run to run; the
	// assertion is the unchanged outside, not these numbers.
	t.Logf("%d rounds: walked into d %d times, opened d/secret %d times", rounds, walked, opened)
	// The files the client could only ever have reached live in the
	// share; the host directory "outside/dir" must be exactly as before
	// (checked with everything else at cleanup).
}

// TestEscapeHardLinks: a hard link is made to the fid's own inode. Through a
// symlink to a dom0 file, that is the symlink; a fid of another share is
// refused.
func TestEscapeHardLinks(t *testing.T) {
	e := newEnv(t)
	e.plant()
	secret := filepath.Join(e.outside, "secret")
	for _, link := range []string{"tosecret", "relsecret"} {
		must(t, e.root.Link(e.mustWalk(link), "hl-"+link))
		if st := lstat(t, e.host("hl-"+link)); st.Mode&unix.S_IFMT != unix.S_IFLNK {
			t.Fatalf("link through %s made mode %o, want a second name for the symlink", link, st.Mode)
		}
	}
	if st := lstat(t, secret); st.Nlink != 1 {
		t.Fatalf("dom0 file got %d links", st.Nlink)
	}
	// Fids are per connection, so 9P cannot even name another share's
	// file; the file server still refuses one if handed it.
	other := t.TempDir()
	must(t, os.WriteFile(filepath.Join(other, "o"), []byte("other"), 0o644))
	share2, err := New(Config{Dir: other})
	must(t, err)
	t.Cleanup(func() { share2.Close() })
	s1 := &session{share: e.share, ctx: t.Context(), maxFiles: 100}
	s2 := &session{share: share2, ctx: t.Context(), maxFiles: 100}
	r1, err := s1.Attach("", p9.NoUID)
	must(t, err)
	defer r1.Close()
	r2, err := s2.Attach("", p9.NoUID)
	must(t, err)
	defer r2.Close()
	_, o, err := r2.Walk([]string{"o"})
	must(t, err)
	defer o.Close()
	wantErrno(t, r1.Link(o, "cross"), unix.EXDEV)
	wantErrno(t, r1.RenameAt("x", r2, "y"), unix.EXDEV)
	if exists(e.host("cross")) {
		t.Fatal("cross-share link created")
	}
}

// TestEscapeRenameOverSymlink: rename never writes through a symlink.
func TestEscapeRenameOverSymlink(t *testing.T) {
	e := newEnv(t)
	e.plant()
	must(t, os.Mkdir(e.host("dd"), 0o755))
	e.writeHost("dd/payload", "guest", 0o644)
	e.writeHost("file", "guest", 0o644)
	// A directory over a symlink to a dom0 directory: ENOTDIR, nothing moves.
	wantErrno(t, e.root.RenameAt("dd", e.root, "todir"), unix.ENOTDIR)
	wantErrno(t, e.root.RenameAt("dd", e.root, "tooutside"), unix.ENOTDIR)
	// A file over a symlink replaces the symlink, not its target.
	must(t, e.root.RenameAt("file", e.root, "tosecret"))
	if st := lstat(t, e.host("tosecret")); st.Mode&unix.S_IFMT != unix.S_IFREG {
		t.Fatal("the symlink was not replaced")
	}
	// Into a symlinked directory: the symlink fid is not a directory.
	wantFail(t, e.root.RenameAt("dd", e.mustWalk("todir"), "x"), "rename into a symlink")
	wantFail(t, e.mustWalk("todir").RenameAt("inner", e.root, "x"), "rename out of a symlink")
}

// TestEscapeMknodThroughSymlink: special files are created in the directory
// the fid holds, never through a symlink, and never as devices.
func TestEscapeMknodThroughSymlink(t *testing.T) {
	e := newEnv(t)
	e.plant()
	_, err := e.mustWalk("todir").Mknod("fifo", p9.ModeNamedPipe|0o666, 0, 0, p9.NoGID)
	wantFail(t, err, "mknod through a symlink")
	_, err = e.root.Mknod("todir", p9.ModeNamedPipe|0o666, 0, 0, p9.NoGID)
	wantErrno(t, err, unix.EEXIST)
	_, err = e.root.Mknod("mem", p9.ModeCharacterDevice|0o666, 1, 1, p9.NoGID)
	wantErrno(t, err, unix.EPERM)
}

// TestProcMagicLinkDoesNotFollow pins the kernel behaviour the server relies
// on for reopen and xattrs: /proc/self/fd/N of an O_PATH descriptor of a
// symlink names the symlink itself, and following it does not continue to
// the symlink's target.
func TestProcMagicLinkDoesNotFollow(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "target")
	must(t, os.WriteFile(target, []byte("t"), 0o644))
	must(t, unix.Setxattr(target, "user.where", []byte("target"), 0))
	must(t, os.Symlink("target", filepath.Join(dir, "link")))
	fd, err := unix.Open(filepath.Join(dir, "link"), unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	must(t, err)
	defer unix.Close(fd)
	if _, err := unix.Getxattr(procFD(fd), "user.where", make([]byte, 16)); err != unix.ENODATA {
		t.Fatalf("getxattr via the magic link: %v, want ENODATA (the link's own, empty)", err)
	}
	if fd2, err := unix.Open(procFD(fd), unix.O_RDONLY|unix.O_CLOEXEC, 0); err == nil {
		unix.Close(fd2)
		t.Fatal("reopening a symlink's O_PATH descriptor opened its target")
	}
	st := lstat(t, target)
	if _, err := reopen(fd, unix.O_RDONLY, &st); err == nil {
		t.Fatal("reopen accepted a symlink")
	}
}
