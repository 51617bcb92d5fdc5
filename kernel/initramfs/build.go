package initramfs

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/containerd/log"
	"github.com/klauspost/compress/gzip"

	"github.com/runxen/runxen/kernel/kmod"
)

// ModulesLoad is the guest file listing module files in load order.
const ModulesLoad = "/etc/runxen/modules.load"

// baseDirs exist before anything is mounted: mount points for the guest's
// PID 1 and the places it expects to write to.
var baseDirs = []struct {
	name string
	perm uint32
}{
	{"dev", 0o755}, {"proc", 0o555}, {"sys", 0o555}, {"tmp", 0o1777},
	{"run", 0o755}, {"etc", 0o755}, {"root", 0o700}, {"sbin", 0o755},
}

// Build writes the initramfs described by s to w as a gzip-compressed newc
// cpio archive.
func Build(w io.Writer, s Spec) error {
	a, err := assemble(s)
	if err != nil {
		return fmt.Errorf("build initramfs: %w", err)
	}
	// The compressor is pinned in go.mod, unlike compress/gzip, whose
	// output may change with the Go toolchain; the zero header carries no
	// name and mtime 0.
	zw, err := gzip.NewWriterLevel(w, gzip.BestCompression)
	if err != nil {
		return fmt.Errorf("build initramfs: %w", err)
	}
	bw := bufio.NewWriterSize(zw, 1<<20)
	if err := a.writeTo(bw); err != nil {
		return fmt.Errorf("build initramfs: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("build initramfs: %w", err)
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("build initramfs: %w", err)
	}
	return nil
}

func assemble(s Spec) (*archive, error) {
	a := newArchive()
	for _, d := range baseDirs {
		if err := a.dir(d.name, d.perm); err != nil {
			return nil, err
		}
	}
	// The kernel opens /dev/console for init's stdio before anyone could
	// mount devtmpfs; without the node init runs with no output at all.
	if err := a.add("dev/console", &entry{mode: modeChar | 0o600, rdevMajor: 5, rdevMinor: 1}); err != nil {
		return nil, err
	}
	if s.Init == "" {
		return nil, errors.New("no init binary")
	}
	if err := a.addHostFile("init", s.Init, 0o755); err != nil {
		return nil, fmt.Errorf("init: %w", err)
	}
	if err := addModules(a, s); err != nil {
		return nil, err
	}
	for _, f := range s.Files {
		name, err := guestPath(f.Dst)
		if err != nil {
			return nil, err
		}
		if f.Mode&^(os.ModePerm|os.ModeSetuid|os.ModeSetgid|os.ModeSticky) != 0 {
			return nil, fmt.Errorf("file %s: mode %v is not a permission mode", f.Dst, f.Mode)
		}
		if err := a.addHostFile(name, f.Src, cpioPerm(f.Mode)); err != nil {
			return nil, fmt.Errorf("file %s: %w", f.Dst, err)
		}
	}
	return a, nil
}

// addModules adds the module closure, decompressed (so the guest needs no
// decompressor in finit_module), and the list that says in which order to
// load them.
func addModules(a *archive, s Spec) error {
	if len(s.Modules) == 0 {
		return a.addBytes(strings.TrimPrefix(ModulesLoad, "/"), 0o644, nil)
	}
	if s.KernelVersion == "" || strings.ContainsAny(s.KernelVersion, "/\x00") || s.KernelVersion == ".." || s.KernelVersion == "." {
		return fmt.Errorf("unusable kernel version %q", s.KernelVersion)
	}
	tree, err := kmod.LoadTree(s.ModulesDir)
	if err != nil {
		return err
	}
	load, builtin, err := tree.Resolve(s.Modules)
	if err != nil {
		return err
	}
	if len(builtin) > 0 {
		log.L.WithField("modules", builtin).Debug("modules built into the kernel need no loading")
	}
	var list strings.Builder
	for _, m := range load {
		data, err := kmod.ReadModule(filepath.Join(s.ModulesDir, filepath.FromSlash(m.Path)))
		if err != nil {
			return err
		}
		dst := path.Join("lib/modules", s.KernelVersion, kmod.StripCompression(m.Path))
		if err := a.addBytes(dst, 0o644, data); err != nil {
			return err
		}
		list.WriteString("/" + dst + "\n")
	}
	return a.addBytes(strings.TrimPrefix(ModulesLoad, "/"), 0o644, []byte(list.String()))
}

// cpioPerm converts Go's mode bits to the Unix ones cpio stores.
func cpioPerm(m os.FileMode) uint32 {
	p := uint32(m.Perm())
	if m&os.ModeSetuid != 0 {
		p |= 0o4000
	}
	if m&os.ModeSetgid != 0 {
		p |= 0o2000
	}
	if m&os.ModeSticky != 0 {
		p |= 0o1000
	}
	return p
}
