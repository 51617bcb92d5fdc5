package lab

import (
	"bufio"
	"bytes"
	"context"
	_ "embed"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Dom0Suite is the Debian release the lab's dom0 is built from: it is the one with Xen 4.20,
// containerd 1.7 and Docker 26 (see docs/lab.md).
const Dom0Suite = "trixie"

// dom0Packages are installed into the dom0 image on top of debootstrap's minbase variant.
var dom0Packages = []string{
	"xen-hypervisor-4.20-amd64", "xen-utils-4.20", "xenstore-utils",
	"linux-image-amd64", "kmod", "procps", "psmisc", "iproute2", "iptables",
	"containerd", "docker.io", "docker-cli", "runc", "tini",
	"containernetworking-plugins", "erofs-utils", "e2fsprogs", "xz-utils", "busybox-static",
	// stress-ng: the share tests run its file stressors in a guest over runxen's 9P server.
	"stress-ng",
}

// dom0ImageSize is the sparse size of the dom0 disk; images and containers pulled into the lab
// live on it.
const dom0ImageSize = "8G"

// dom0ImageVersion changes whenever the way the image is assembled changes in a way the other
// inputs do not show.
const dom0ImageVersion = "1"

//go:embed dom0/stub-init
var stubInit []byte

//go:embed dom0/containerd2.toml
var containerd2Config []byte

// dom0Image is a built, cached dom0: the Xen hypervisor, dom0 kernel and initrd for QEMU's
// multiboot loader, and the root file system image.
type dom0Image struct {
	Dir                 string
	Xen, Kernel, Initrd string
	Disk                string
}

func dom0ImageKey(tools *hostTools) string {
	return cacheKey(dom0ImageVersion, Dom0Suite, strings.Join(dom0Packages, ","), dom0ImageSize,
		string(stubInit), string(containerd2Config), tools.key)
}

func buildDom0Image(ctx context.Context, o Options, p *progress, tools *hostTools) (*dom0Image, error) {
	dir := filepath.Join(o.CacheDir, "dom0", dom0ImageKey(tools))
	img := &dom0Image{
		Dir:    dir,
		Xen:    filepath.Join(dir, "xen"),
		Kernel: filepath.Join(dir, "vmlinuz"),
		Initrd: filepath.Join(dir, "initrd.img"),
		Disk:   filepath.Join(dir, "dom0.img"),
	}
	err := cached(dir, func(dir string) error {
		mirror := o.Mirror
		if mirror == "" {
			m, err := debianMirror()
			if err != nil {
				return err
			}
			mirror = m
		}
		root := filepath.Join(dir, "rootfs")
		// The root file system is only an intermediate: remove it whatever happens.
		defer os.RemoveAll(root)
		// debootstrap mostly waits on the network and dpkg while the tools build is compute-bound:
		// running them side by side takes minutes off a cold build.
		toolsDone := make(chan error, 1)
		go func() { toolsDone <- tools.build(ctx, p) }()
		_, err := p.step("debootstrap "+Dom0Suite+" dom0 root file system", func(status func(string)) error {
			args := []string{"--variant=minbase", "--include=" + strings.Join(dom0Packages, ","), Dom0Suite, root, mirror}
			return runLogged(ctx, filepath.Join(dir, "debootstrap.log"), status, "debootstrap", args...)
		})
		if toolsErr := <-toolsDone; toolsErr != nil {
			return toolsErr
		}
		if err != nil {
			return fmt.Errorf("build dom0 root file system: %w", err)
		}
		if _, err := p.step("configure dom0", func(func(string)) error {
			return configureDom0(root, tools)
		}); err != nil {
			return fmt.Errorf("configure dom0: %w", err)
		}
		if _, err := p.step("pack dom0 disk image ("+dom0ImageSize+", mkfs.ext4 -d)", func(func(string)) error {
			return extractBootFiles(root, img)
		}); err != nil {
			return err
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("dom0 image: %w", err)
	}
	return img, nil
}

// configureDom0 trims the root file system and adds what the lab needs that no package provides.
func configureDom0(root string, tools *hostTools) error {
	for _, d := range []string{"usr/share/doc", "usr/share/man", "usr/share/locale", "usr/share/info", "var/lib/apt/lists", "var/cache/apt"} {
		if err := os.RemoveAll(filepath.Join(root, d)); err != nil {
			return err
		}
	}
	files := []struct {
		path string
		data []byte
		mode os.FileMode
	}{
		{"lab/init", stubInit, 0o755},
		// Autoballooning would make xl shrink dom0 and serialise domain creation on a lock.
		{"etc/xen/xl.conf", []byte("autoballoon=\"off\"\n"), 0o644},
		{"etc/containerd2/config.toml", containerd2Config, 0o644},
		{"etc/hostname", []byte("runxen-lab\n"), 0o644},
		// nerdctl, crictl and ctr2 talk to containerd 2.x; plain ctr and docker to 1.7.
		{"etc/nerdctl/nerdctl.toml", []byte("address = \"unix:///run/containerd2/containerd.sock\"\nnamespace = \"default\"\n"), 0o644},
		{"etc/crictl.yaml", []byte("runtime-endpoint: unix:///run/containerd2/containerd.sock\nimage-endpoint: unix:///run/containerd2/containerd.sock\ntimeout: 60\n"), 0o644},
		{"usr/local/bin/ctr2", []byte("#!/bin/sh\nexec /opt/containerd2/bin/ctr --address /run/containerd2/containerd.sock \"$@\"\n"), 0o755},
	}
	for _, f := range files {
		p := filepath.Join(root, f.path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, f.data, f.mode); err != nil {
			return err
		}
	}
	return tools.install(root)
}

// extractBootFiles takes the hypervisor, kernel and initrd out of the root file system for QEMU,
// then packs the root file system into an ext4 image without loop devices or mounts.
func extractBootFiles(root string, img *dom0Image) error {
	xenGz, err := onlyMatch(filepath.Join(root, "boot", "xen-4.20-amd64.gz"))
	if err != nil {
		return err
	}
	// QEMU's multiboot loader takes Xen's ELF, not the gzip Debian ships.
	out, err := exec.Command("gunzip", "-c", xenGz).Output()
	if err != nil {
		return fmt.Errorf("gunzip %s: %w", xenGz, err)
	}
	if err := os.WriteFile(img.Xen, out, 0o644); err != nil {
		return err
	}
	for src, dst := range map[string]string{"vmlinuz-*": img.Kernel, "initrd.img-*": img.Initrd} {
		f, err := onlyMatch(filepath.Join(root, "boot", src))
		if err != nil {
			return err
		}
		if err := copyFile(f, dst, 0o644); err != nil {
			return err
		}
	}
	if out, err := exec.Command("mkfs.ext4", "-q", "-F", "-d", root, "-L", "dom0", img.Disk, dom0ImageSize).CombinedOutput(); err != nil {
		return fmt.Errorf("mkfs.ext4 dom0 image: %w: %s", err, out)
	}
	return nil
}

func onlyMatch(pattern string) (string, error) {
	m, err := filepath.Glob(pattern)
	if err != nil {
		return "", err
	}
	if len(m) != 1 {
		return "", fmt.Errorf("want exactly one %s, found %d", pattern, len(m))
	}
	return m[0], nil
}

func copyFile(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// runLogged runs a long command with its output in logPath, reporting its latest line as status.
// On failure the error carries the log's tail, so nobody has to go looking for it.
func runLogged(ctx context.Context, logPath string, status func(string), name string, args ...string) error {
	logf, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.CommandContext(ctx, name, args...)
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	var tail bytes.Buffer
	scanDone := make(chan struct{})
	go func() {
		defer close(scanDone)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(logf, line)
			status(line)
			tail.WriteString(line + "\n")
			if tail.Len() > 4096 {
				tail.Next(tail.Len() - 4096)
			}
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	err = cmd.Run()
	pw.Close()
	<-scanDone
	if err != nil {
		return fmt.Errorf("%s: %w (log %s):\n%s", name, err, logPath, tail.String())
	}
	return nil
}
