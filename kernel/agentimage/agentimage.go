// Package agentimage describes the initramfs a runxen guest boots: the
// guest agent as /init, Debian's runc with exactly the shared libraries it
// loads, and the kernel modules the guest needs. The test variant adds
// what the lab's end-to-end tests run inside a guest: a busybox root file
// system for containers, and Xen's vchan-socket-proxy with its libraries,
// to test our vchan against libxenvchan.
//
// Binaries and libraries come from Debian packages unpacked by
// kernel/debpkg; which libraries go in is read from the ELF files
// themselves (kernel/elfdeps), so a new Debian upload that needs another
// library fails the build with that library's name rather than a guest
// that cannot start runc.
package agentimage

import (
	"bufio"
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"path"
	"slices"
	"strings"

	"github.com/runxen/runxen/internal/debian/apt"
	"github.com/runxen/runxen/kernel/elfdeps"
	"github.com/runxen/runxen/kernel/initramfs"
)

// Packages are the Debian packages the image takes files from: runc and
// the libraries it links against. Nothing else is added automatically, so
// a dependency Debian adds to runc must be added here; the build names the
// missing library.
var Packages = []string{"libc6", "libseccomp2", "runc"}

// TestPackages are added for the test variant: busybox for the test root
// file system, and xen-utils-4.20 for vchan-socket-proxy with the packages
// of the libraries it loads (libxenvchan and libxenctrl are in
// libxenmisc4.20).
var TestPackages = []string{
	"busybox-static",
	"libxencall1",
	"libxendevicemodel1",
	"libxenevtchn1",
	"libxenforeignmemory1",
	"libxengnttab1",
	"libxenmisc4.20",
	"libxenstore4",
	"libxentoolcore1",
	"libxentoollog1",
	"xen-utils-4.20",
}

// Guest paths.
const (
	// Runc is where the agent finds runc; Debian installs it there.
	Runc = "/usr/sbin/runc"
	// VchanSocketProxy is Xen's vchan <-> UNIX socket proxy, at the path
	// Debian's xen-utils-4.20 installs it (test variant only).
	VchanSocketProxy = "/usr/lib/xen-4.20/bin/vchan-socket-proxy"
	// BusyboxRoot is the test root file system (test variant only).
	BusyboxRoot = "/rootfs/busybox"
	// busyboxBinary is where the package installs busybox; the tree is
	// read as merged-/usr, so /bin/busybox finds /usr/bin/busybox too.
	busyboxBinary = "/bin/busybox"
)

// PackagesFor returns the package list of one variant, sorted.
func PackagesFor(testExtras bool) []string {
	pkgs := slices.Clone(Packages)
	if testExtras {
		pkgs = append(pkgs, TestPackages...)
	}
	slices.Sort(pkgs)
	return slices.Compact(pkgs)
}

// Options describe one image.
type Options struct {
	// Agent is the host path of the static guest agent, the image's /init.
	Agent string
	// Tree is the root of the unpacked PackagesFor(TestExtras).
	Tree string
	// KernelVersion, ModulesDir and Modules choose the kernel modules, as
	// in initramfs.Spec.
	KernelVersion string
	ModulesDir    string
	Modules       []string
	// Files are extra files, such as a guest-side test helper. A path
	// under /bin, /sbin, /lib or /lib64 is placed under /usr, which they
	// link to.
	Files []initramfs.File
	// TestExtras adds the busybox root file system and vchan-socket-proxy.
	TestExtras bool
	// Compression is passed on to initramfs.Spec.
	Compression initramfs.Compression
	// Runner runs the tree's busybox to list its applets; nil runs it
	// directly (it is static, so it runs on any amd64 host).
	Runner apt.Runner
}

// passwd and group of the guest itself: runc runs as root and resolves
// container users in the container's root file system, so root is all the
// guest needs. There is no shell to log in to.
const (
	guestPasswd = "root:x:0:0:root:/root:/sbin/nologin\n"
	guestGroup  = "root:x:0:\n"
	// The test root file system has a shell, and an unprivileged user
	// for tests of user switching.
	testPasswd = "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\n"
	testGroup  = "root:x:0:\nuser:x:1000:\n"
)

// Spec returns the initramfs specification of the image o describes.
func Spec(ctx context.Context, o Options) (initramfs.Spec, error) {
	if err := checkStatic(o.Agent); err != nil {
		return initramfs.Spec{}, fmt.Errorf("agent: %w", err)
	}
	if o.Tree == "" {
		return initramfs.Spec{}, errors.New("no package tree")
	}
	s := initramfs.Spec{
		Init:          o.Agent,
		KernelVersion: o.KernelVersion,
		ModulesDir:    o.ModulesDir,
		Modules:       o.Modules,
		MergedUsr:     true,
		Compression:   o.Compression,
		// runc keeps its state in /run/runc; /var/run is where older
		// tools look for the same.
		Dirs:     []initramfs.Dir{{Path: "/var", Mode: 0o755}},
		Symlinks: []initramfs.Symlink{{Path: "/var/run", Target: "../run"}},
		Files: []initramfs.File{
			{Dst: "/etc/passwd", Data: []byte(guestPasswd)},
			{Dst: "/etc/group", Data: []byte(guestGroup)},
		},
	}
	programs := []string{Runc}
	if o.TestExtras {
		programs = append(programs, VchanSocketProxy)
	}
	entries, err := elfdeps.Closure(o.Tree, programs...)
	if err != nil {
		return initramfs.Spec{}, err
	}
	addEntries(&s, "", entries)
	if o.TestExtras {
		if err := addBusybox(ctx, &s, o); err != nil {
			return initramfs.Spec{}, fmt.Errorf("busybox root file system: %w", err)
		}
	}
	// The image is merged-/usr: a file for /bin goes to /usr/bin, which
	// /bin links to.
	for _, f := range o.Files {
		if path.IsAbs(f.Dst) && path.Clean(f.Dst) == f.Dst {
			f.Dst = elfdeps.Canonical(f.Dst)
		}
		s.Files = append(s.Files, f)
	}
	return s, nil
}

// addEntries places closure entries under prefix.
func addEntries(s *initramfs.Spec, prefix string, entries []elfdeps.Entry) {
	for _, e := range entries {
		if e.IsSymlink() {
			s.Symlinks = append(s.Symlinks, initramfs.Symlink{Path: prefix + e.Path, Target: e.Target})
			continue
		}
		s.Files = append(s.Files, initramfs.File{Src: e.Src, Dst: prefix + e.Path, Mode: e.Mode})
	}
}

// checkStatic fails unless the file is an ELF executable without an
// interpreter: /init runs before anything could provide one.
func checkStatic(p string) error {
	if p == "" {
		return errors.New("no binary given")
	}
	f, err := elf.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_INTERP {
			return fmt.Errorf("%s is dynamically linked; build it with CGO_ENABLED=0", p)
		}
	}
	return nil
}

// addBusybox adds the test root file system: Debian's static busybox with
// a link per applet where busybox itself would install it, and the files
// and directories a container expects.
func addBusybox(ctx context.Context, s *initramfs.Spec, o Options) error {
	entries, err := elfdeps.Closure(o.Tree, busyboxBinary)
	if err != nil {
		return err
	}
	var bin *elfdeps.Entry
	for i, e := range entries {
		if !e.IsSymlink() {
			if bin != nil {
				return fmt.Errorf("%s is not static: it needs %s", busyboxBinary, e.Path)
			}
			bin = &entries[i]
		}
	}
	applets, err := listApplets(ctx, o.Runner, bin.Src)
	if err != nil {
		return err
	}
	root := BusyboxRoot
	s.Files = append(s.Files,
		initramfs.File{Src: bin.Src, Dst: root + "/bin/busybox", Mode: 0o755},
		initramfs.File{Dst: root + "/etc/passwd", Data: []byte(testPasswd)},
		initramfs.File{Dst: root + "/etc/group", Data: []byte(testGroup)},
	)
	s.Dirs = append(s.Dirs,
		initramfs.Dir{Path: root + "/dev", Mode: 0o755},
		initramfs.Dir{Path: root + "/proc", Mode: 0o555},
		initramfs.Dir{Path: root + "/sys", Mode: 0o555},
		initramfs.Dir{Path: root + "/tmp", Mode: os.ModeSticky | 0o777},
		initramfs.Dir{Path: root + "/root", Mode: 0o700},
		initramfs.Dir{Path: root + "/home/user", Mode: 0o755},
		initramfs.Dir{Path: root + "/etc", Mode: 0o755},
	)
	for _, a := range applets {
		s.Symlinks = append(s.Symlinks, initramfs.Symlink{Path: root + "/" + a, Target: appletTarget(a)})
	}
	return nil
}

// appletTarget is the relative link from an applet to /bin/busybox, so the
// links work wherever the root file system is mounted or looked at.
func appletTarget(applet string) string {
	dir := path.Dir(applet)
	switch dir {
	case ".": // linuxrc, at the top
		return "bin/busybox"
	case "bin":
		return "busybox"
	}
	return strings.Repeat("../", strings.Count(dir, "/")+1) + "bin/busybox"
}

// listApplets asks busybox where each applet goes (--list-full prints
// paths such as usr/bin/awk); a busybox without that option lists bare
// names, which then go to bin/.
func listApplets(ctx context.Context, r apt.Runner, busybox string) ([]string, error) {
	if r == nil {
		r = apt.ExecRunner{}
	}
	out, err := r.Run(ctx, apt.Cmd{Name: busybox, Args: []string{"--list-full"}})
	full := err == nil
	if !full {
		if out, err = r.Run(ctx, apt.Cmd{Name: busybox, Args: []string{"--list"}}); err != nil {
			return nil, fmt.Errorf("list applets: %w", err)
		}
	}
	var applets []string
	seen := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		a := strings.TrimSpace(sc.Text())
		if a == "" {
			continue
		}
		if !full {
			a = "bin/" + a
		}
		if !validApplet(a) {
			return nil, fmt.Errorf("unexpected applet path %q", a)
		}
		if a == "bin/busybox" || seen[a] {
			continue
		}
		seen[a] = true
		applets = append(applets, a)
	}
	if len(applets) == 0 {
		return nil, errors.New("busybox lists no applets")
	}
	if !seen["bin/sh"] {
		return nil, errors.New("busybox has no sh applet")
	}
	slices.Sort(applets)
	return applets, nil
}

// validApplet accepts the relative paths busybox installs applets at (only
// linuxrc goes at the top).
func validApplet(a string) bool {
	dir, name := path.Split(a)
	switch dir {
	case "", "bin/", "sbin/", "usr/bin/", "usr/sbin/":
	default:
		return false
	}
	return name != "" && name != "." && name != ".." && !strings.ContainsAny(name, "/\x00") &&
		(dir != "" || !slices.Contains([]string{"bin", "sbin", "usr", "etc", "dev", "proc", "sys", "tmp", "root", "home"}, name))
}
