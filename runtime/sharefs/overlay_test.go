//go:build linux

package sharefs

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/runxen/runxen/runtime/p9"
)

// TestOverlayRootfs serves an overlayfs merged directory, as Docker's
// rootfs is, and checks the guest's changes land in the upper directory as
// they would with runc (copy-up, whiteouts), where docker diff and docker
// commit read them, while the image layer (lower) stays untouched.
func TestOverlayRootfs(t *testing.T) {
	requireRoot(t)
	base := t.TempDir()
	lower, upper, work, merged := filepath.Join(base, "lower"), filepath.Join(base, "upper"), filepath.Join(base, "work"), filepath.Join(base, "merged")
	for _, d := range []string{lower, upper, work, merged, filepath.Join(lower, "etc")} {
		must(t, os.Mkdir(d, 0o755))
	}
	must(t, os.WriteFile(filepath.Join(lower, "etc", "conf"), []byte("image"), 0o644))
	must(t, os.WriteFile(filepath.Join(lower, "gone"), []byte("image"), 0o644))
	must(t, os.WriteFile(filepath.Join(lower, "bin"), []byte("elf"), 0o755))
	if err := unix.Mount("overlay", merged, "overlay", 0, "lowerdir="+lower+",upperdir="+upper+",workdir="+work); err != nil {
		t.Skipf("cannot mount overlayfs here: %v", err)
	}
	t.Cleanup(func() { unix.Unmount(merged, unix.MNT_DETACH) })
	lowerBefore := snapshot(t, lower, "")

	share, err := New(Config{Dir: merged})
	must(t, err)
	defer share.Close()
	_, root := connect(t, share, p9.NoUID)
	walk := func(names ...string) p9.File {
		_, f, err := root.Walk(names)
		must(t, err)
		t.Cleanup(func() { f.Close() })
		return f
	}

	conf := walk("etc", "conf")
	_, _, err = conf.Open(p9.ReadWrite)
	must(t, err)
	_, err = conf.WriteAt([]byte("guest"), 0)
	must(t, err)
	must(t, walk("bin").SetAttr(p9.SetAttrMode, p9.SetAttr{Mode: 0o4755}))
	must(t, walk("bin").SetXattr("user.tag", []byte("1"), 0))
	must(t, root.UnlinkAt("gone", 0))
	_, err = root.Mkdir("data", 0o750, p9.NoGID)
	must(t, err)
	_, d, err := root.Walk([]string{"data"})
	must(t, err)
	_, _, _, err = d.Create("new", p9.WriteOnly, 0o600, p9.NoGID)
	must(t, err)
	must(t, share.Sync(context.Background()))

	if b, _ := os.ReadFile(filepath.Join(upper, "etc", "conf")); string(b) != "guest" {
		t.Errorf("upper etc/conf = %q, want the guest's write (copy-up)", b)
	}
	if st := lstat(t, filepath.Join(upper, "bin")); st.Mode&0o7777 != 0o4755 {
		t.Errorf("upper bin mode %o", st.Mode&0o7777)
	}
	if n, err := unix.Getxattr(filepath.Join(upper, "bin"), "user.tag", make([]byte, 8)); err != nil || n != 1 {
		t.Errorf("upper bin xattr: %d %v", n, err)
	}
	if st := lstat(t, filepath.Join(upper, "gone")); st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != 0 {
		t.Errorf("upper gone: mode %o rdev %d, want overlay's whiteout", st.Mode, st.Rdev)
	}
	if st := lstat(t, filepath.Join(upper, "data", "new")); st.Mode != unix.S_IFREG|0o600 {
		t.Errorf("upper data/new mode %o", st.Mode)
	}
	if after := snapshot(t, lower, ""); !equalSnap(lowerBefore, after) {
		t.Errorf("the image layer changed:\n%s", diffSnap(lowerBefore, after))
	}
}
