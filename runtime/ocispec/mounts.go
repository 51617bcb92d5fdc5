package ocispec

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// GuestShareDir is where the agent mounts the shares in the guest: share
// TAG at GuestShareDir/TAG.
const GuestShareDir = "/run/runxen/shares"

// Share tags (the guest's 9p mount source); Options.TagPrefix goes in
// front of each.
const (
	// RootfsTag is the container's root file system.
	RootfsTag = "rootfs"
	// volumeTagPrefix + N is the Nth distinct bind-mounted host directory.
	volumeTagPrefix = "vol"
	// FilesROTag and FilesRWTag carry bind-mounted host files (see
	// Share.Files).
	FilesROTag = "files-ro"
	FilesRWTag = "files-rw"
)

// defaultShmSize is Docker's /dev/shm size, used when the host's cannot be
// read.
const defaultShmSize = 64 << 20

// Share is one host directory the guest mounts over 9P.
type Share struct {
	// Tag is the mount tag (agent.CheckShareTag's rule).
	Tag string
	// HostDir is the directory served (absolute).
	HostDir string
	// GuestPath is where the agent mounts it in the guest.
	GuestPath string
	// ReadOnly shares refuse every change, whatever the guest does.
	ReadOnly bool
	// Files, for a staging share, are host files to bind-mount into
	// HostDir (which the sandbox creates) before the share is served:
	// 9P serves directories, and a file's parent directory may hold
	// files the container must not see (Docker keeps a container's
	// resolv.conf next to its config and logs).
	Files []StagedFile
}

// StagedFile is one bind-mounted host file: the sandbox binds Source onto
// HostDir/Name; the guest spec binds GuestPath/Name onto the destination.
type StagedFile struct {
	Name   string
	Source string
}

// kernelMounts are the mount types that stay in the guest: each is a view
// of the container's own kernel objects, which the guest kernel provides
// with the same meaning.
var kernelMounts = map[string]bool{
	"proc": true, "sysfs": true, "tmpfs": true, "devpts": true, "mqueue": true,
	"cgroup": true, "cgroup2": true,
}

// hostKernelDirs hold the host kernel's interfaces: a bind from there would
// hand the guest a view of the host kernel over 9P.
var hostKernelDirs = []string{"/proc", "/sys", "/dev"}

type mounter struct {
	p      *problems
	notes  *[]string
	host   Host
	prefix string // tag prefix
	stage  string // staging directory (absolute host path)

	shares  []Share
	byDir   map[shareKey]int // index into shares
	files   map[bool]int     // read-only -> index into shares
	volumes int
}

type shareKey struct {
	dir string
	ro  bool
}

func (m *mounter) tag(t string) string { return m.prefix + t }

func (m *mounter) addShare(s Share) int {
	s.GuestPath = path.Join(GuestShareDir, s.Tag)
	m.shares = append(m.shares, s)
	return len(m.shares) - 1
}

// mounts rewrites the guest's mounts: kernel file systems stay, binds of
// host directories and files become shares.
func (m *mounter) mounts(ms []specs.Mount) []specs.Mount {
	out := make([]specs.Mount, 0, len(ms))
	for i, mt := range ms {
		f := fmt.Sprintf("mounts[%d]", i)
		if !isBind(mt) {
			if kernelMounts[mt.Type] {
				out = append(out, mt)
				continue
			}
			if mt.Type == "" {
				m.p.invalid(f+".type", "is empty and the options ask for no bind")
			} else {
				m.p.unsupported(f+".type", "%.120q (destination %.120q): only binds of host directories and files, and the kernel file systems %s, reach a guest",
					mt.Type, mt.Destination, "proc, sysfs, tmpfs, devpts, mqueue, cgroup, cgroup2")
			}
			continue
		}
		if g, ok := m.bind(f, mt); ok {
			out = append(out, g)
		}
	}
	return out
}

func isBind(m specs.Mount) bool {
	if m.Type == "bind" {
		return true
	}
	if m.Type != "" && m.Type != "none" {
		return false
	}
	for _, o := range m.Options {
		if o == "bind" || o == "rbind" {
			return true
		}
	}
	return false
}

// bind translates one bind mount.
func (m *mounter) bind(f string, mt specs.Mount) (specs.Mount, bool) {
	src := mt.Source
	if !filepath.IsAbs(src) {
		m.p.invalid(f+".source", "%.120q: a bind source must be an absolute host path", src)
		return specs.Mount{}, false
	}
	src = filepath.Clean(src)
	ro, ok := m.bindOptions(f, mt.Options)
	if !ok {
		return specs.Mount{}, false
	}
	for _, d := range hostKernelDirs {
		if src == d || strings.HasPrefix(src, d+"/") {
			m.p.unsupported(f+".source", "%.120q: the host kernel's interfaces (%s) cannot reach a guest, which has its own kernel",
				src, strings.Join(hostKernelDirs, ", "))
			return specs.Mount{}, false
		}
	}
	if mt.Destination == "/dev/shm" {
		if g, ok := m.shm(mt, src); ok {
			return g, true
		}
	}
	fi, err := m.host.Stat(src)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			m.p.invalid(f+".source", "%.120q does not exist on the host", src)
		} else {
			m.p.invalid(f+".source", "%v", err)
		}
		return specs.Mount{}, false
	}
	g := mt
	g.Options = append([]string(nil), mt.Options...)
	switch {
	case fi.IsDir():
		k := shareKey{dir: src, ro: ro}
		i, ok := m.byDir[k]
		if !ok {
			i = m.addShare(Share{Tag: m.tag(volumeTagPrefix + strconv.Itoa(m.volumes)), HostDir: src, ReadOnly: ro})
			m.volumes++
			m.byDir[k] = i
		}
		g.Source = m.shares[i].GuestPath
	case fi.Mode().IsRegular():
		i, ok := m.files[ro]
		if !ok {
			tag := m.tag(FilesRWTag)
			if ro {
				tag = m.tag(FilesROTag)
			}
			i = m.addShare(Share{Tag: tag, HostDir: filepath.Join(m.stage, tag), ReadOnly: ro})
			m.files[ro] = i
		}
		s := &m.shares[i]
		name := strconv.Itoa(len(s.Files))
		s.Files = append(s.Files, StagedFile{Name: name, Source: src})
		g.Source = path.Join(s.GuestPath, name)
	default:
		m.p.unsupported(f+".source", "%.120q is a %s; only directories and regular files can be shared with a guest (sockets, devices and pipes of the host cannot reach it)",
			src, fileKind(fi.Mode()))
		return specs.Mount{}, false
	}
	return g, true
}

// bindOptions finds whether a bind is read-only, and refuses propagation
// back to the host, which a share cannot carry.
func (m *mounter) bindOptions(f string, opts []string) (ro, ok bool) {
	ok = true
	for j, o := range opts {
		switch o {
		case "ro", "rro":
			ro = true
		case "rw", "rrw":
			ro = false
		case "shared", "rshared":
			m.p.unsupported(fmt.Sprintf("%s.options[%d]", f, j), "%q: mounts made in the guest cannot propagate back to the host", o)
			ok = false
		}
	}
	return ro, ok
}

// shm turns a bind of a host tmpfs onto /dev/shm (Docker's per-container
// shm) into a guest tmpfs of the same size: shared memory is memory, and
// no other container's processes could share it with this guest anyway.
func (m *mounter) shm(mt specs.Mount, src string) (specs.Mount, bool) {
	isTmpfs, size, err := m.host.Tmpfs(src)
	switch {
	case err != nil:
		// Not the host's business to fail here; the bind path below
		// reports a missing source.
		return specs.Mount{}, false
	case !isTmpfs:
		return specs.Mount{}, false
	}
	if size == 0 {
		size = defaultShmSize
	}
	opts := []string{"nosuid", "noexec", "nodev", "mode=1777", "size=" + strconv.FormatUint(size, 10)}
	for _, o := range mt.Options {
		if o == "ro" {
			opts = append(opts, "ro")
		}
	}
	*m.notes = append(*m.notes, fmt.Sprintf("/dev/shm: the host tmpfs %s became a guest tmpfs of %d bytes", src, size))
	return specs.Mount{Destination: mt.Destination, Type: "tmpfs", Source: "shm", Options: opts}, true
}

func fileKind(mode fs.FileMode) string {
	switch {
	case mode&fs.ModeSocket != 0:
		return "socket"
	case mode&fs.ModeNamedPipe != 0:
		return "named pipe"
	case mode&fs.ModeCharDevice != 0:
		return "character device"
	case mode&fs.ModeDevice != 0:
		return "block device"
	}
	return "special file"
}
