//go:build dom0

package dom0

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// A container root file system built in dom0 from what the lab has: the
// static busybox of Debian's busybox-static, laid out as a merged-/usr
// image is (/bin -> usr/bin, /sbin -> usr/sbin, /lib -> usr/lib, /lib64 ->
// usr/lib64) with every applet an absolute symlink to /usr/bin/busybox, as
// Debian images have absolute links. stress-ng and its libraries are added
// when dom0 has it, and this test binary as /usr/local/bin/runxen-sharetool.

const (
	// guestTool is where the tool lives in the container.
	guestTool = "/usr/local/bin/runxen-sharetool"
	// stressNG is Debian's stress-ng.
	stressNG = "/usr/bin/stress-ng"
)

func dom0Busybox(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"/usr/bin/busybox", "/bin/busybox"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	t.Fatal("dom0 has no busybox (the lab image installs busybox-static)")
	return ""
}

// buildRootfs lays out the root file system in dir (which exists and is
// empty) and reports whether stress-ng went in.
func buildRootfs(t *testing.T, dir string) (withStress bool) {
	t.Helper()
	for _, d := range []struct {
		path string
		mode os.FileMode
	}{
		{"usr/bin", 0o755}, {"usr/sbin", 0o755}, {"usr/lib", 0o755}, {"usr/lib64", 0o755},
		{"usr/local/bin", 0o755}, {"etc", 0o755}, {"dev", 0o755}, {"proc", 0o555}, {"sys", 0o555},
		{"tmp", 0o1777 | os.ModeSticky}, {"root", 0o700}, {"home/user", 0o755}, {"run", 0o755},
		{"var/tmp", 0o1777 | os.ModeSticky}, {"vol", 0o755}, {"ro", 0o755}, {"work", 0o755},
	} {
		p := filepath.Join(dir, d.path)
		must(t, os.MkdirAll(p, 0o755))
		must(t, os.Chmod(p, d.mode))
	}
	for link, target := range map[string]string{"bin": "usr/bin", "sbin": "usr/sbin", "lib": "usr/lib", "lib64": "usr/lib64"} {
		must(t, os.Symlink(target, filepath.Join(dir, link)))
	}
	bb := dom0Busybox(t)
	copyFile(t, bb, filepath.Join(dir, "usr/bin/busybox"), 0o755)
	out, err := exec.Command(bb, "--list").Output()
	if err != nil {
		t.Fatalf("busybox --list: %v", err)
	}
	n := 0
	for _, a := range strings.Fields(string(out)) {
		if a == "busybox" || strings.Contains(a, "/") {
			continue
		}
		if err := os.Symlink("/usr/bin/busybox", filepath.Join(dir, "usr/bin", a)); err == nil {
			n++
		}
	}
	files := map[string]string{
		"etc/passwd":   "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\n",
		"etc/group":    "root:x:0:\nuser:x:1000:\n",
		"etc/hostname": "runxen-share\n",
	}
	for p, c := range files {
		must(t, os.WriteFile(filepath.Join(dir, p), []byte(c), 0o644))
	}
	self, err := os.Executable()
	must(t, err)
	copyFile(t, self, filepath.Join(dir, guestTool[1:]), 0o755)
	if _, err := os.Stat(stressNG); err == nil {
		addProgram(t, dir, stressNG)
		withStress = true
	}
	t.Logf("root file system in %s: busybox with %d applet links, /bin -> usr/bin; stress-ng: %v", dir, n, withStress)
	return withStress
}

// addProgram copies a dynamically linked program and the libraries ldd
// names (the ELF interpreter included) to the same paths under dir.
func addProgram(t *testing.T, dir, prog string) {
	t.Helper()
	copyFile(t, prog, filepath.Join(dir, prog), 0o755)
	out, err := exec.Command("ldd", prog).Output()
	if err != nil {
		t.Fatalf("ldd %s: %v", prog, err)
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		var lib string
		switch {
		case len(f) >= 3 && f[1] == "=>" && strings.HasPrefix(f[2], "/"):
			lib = f[2]
		case len(f) >= 1 && strings.HasPrefix(f[0], "/"):
			lib = f[0]
		default:
			continue
		}
		real, err := filepath.EvalSymlinks(lib)
		must(t, err)
		// The root file system's /lib and /lib64 link into usr, as dom0's
		// do; the library goes where its path leads inside dir.
		dst := filepath.Join(dir, "usr", strings.TrimPrefix(strings.TrimPrefix(lib, "/usr"), "/"))
		if _, err := os.Stat(dst); err == nil {
			continue
		}
		must(t, os.MkdirAll(filepath.Dir(dst), 0o755))
		copyFile(t, real, dst, 0o755)
	}
}

func copyFile(t *testing.T, src, dst string, mode os.FileMode) {
	t.Helper()
	in, err := os.Open(src)
	must(t, err)
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	must(t, err)
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	must(t, out.Close())
	must(t, os.Chmod(dst, mode))
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// shareBase makes a fresh directory on dom0's disk (not a tmpfs: the
// tests write hundreds of MiB) and removes it at the end.
func shareBase(t *testing.T) string {
	t.Helper()
	must(t, os.MkdirAll("/var/lib/runxen-dom0test", 0o755))
	d, err := os.MkdirTemp("/var/lib/runxen-dom0test", "share-")
	must(t, err)
	t.Cleanup(func() {
		if err := os.RemoveAll(d); err != nil {
			t.Logf("remove %s: %v", d, err)
		}
	})
	return d
}

func fmtMiBps(r toolResult) string { return fmt.Sprintf("%.1f MiB/s", r.mibps()) }
