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
	"github.com/klauspost/compress/zstd"

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

// mergedUsr are the top-level links of a merged-/usr system.
var mergedUsr = []struct{ name, target string }{
	{"bin", "usr/bin"}, {"sbin", "usr/sbin"}, {"lib", "usr/lib"}, {"lib64", "usr/lib64"},
}

// zstdWindow bounds the zstd window, which is what the guest kernel
// allocates to unpack the archive (lib/decompress_unzstd.c sizes its
// workspace from the frame header). A larger window gains little on this
// content.
const zstdWindow = 1 << 20

// ParseCompression parses a compression name.
func ParseCompression(s string) (Compression, error) {
	switch c := Compression(s); c {
	case Gzip, Zstd:
		return c, nil
	}
	return "", fmt.Errorf("unknown compression %q (want %s or %s)", s, Gzip, Zstd)
}

// compressor returns the writer for c. The compressors are pinned in
// go.mod, unlike compress/gzip, whose output may change with the Go
// toolchain. The gzip header carries no name and mtime 0; zstd runs on one
// goroutine, so its output does not depend on the machine.
func compressor(w io.Writer, c Compression) (io.WriteCloser, error) {
	switch c {
	case "", Gzip:
		return gzip.NewWriterLevel(w, gzip.BestCompression)
	case Zstd:
		return zstd.NewWriter(w,
			zstd.WithEncoderLevel(zstd.SpeedBestCompression),
			zstd.WithEncoderConcurrency(1),
			zstd.WithWindowSize(zstdWindow),
			// A single-segment frame makes the decompressor's window the
			// whole archive.
			zstd.WithSingleSegment(false),
			zstd.WithEncoderCRC(true))
	}
	return nil, fmt.Errorf("unknown compression %q", c)
}

// Build writes the initramfs described by s to w as a compressed newc cpio
// archive.
func Build(w io.Writer, s Spec) error {
	_, err := Write(w, s)
	return err
}

// Stats describe a written archive.
type Stats struct {
	Entries      int   // archive members, directories and links included
	Uncompressed int64 // size of the cpio archive before compression
}

// Write is Build, also returning the archive's statistics.
func Write(w io.Writer, s Spec) (Stats, error) {
	if s.Compression != "" {
		if _, err := ParseCompression(string(s.Compression)); err != nil {
			return Stats{}, fmt.Errorf("build initramfs: %w", err)
		}
	}
	a, err := assemble(s)
	if err != nil {
		return Stats{}, fmt.Errorf("build initramfs: %w", err)
	}
	zw, err := compressor(w, s.Compression)
	if err != nil {
		return Stats{}, fmt.Errorf("build initramfs: %w", err)
	}
	cw := &countingWriter{w: zw}
	bw := bufio.NewWriterSize(cw, 1<<20)
	if err := a.writeTo(bw); err != nil {
		return Stats{}, fmt.Errorf("build initramfs: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return Stats{}, fmt.Errorf("build initramfs: %w", err)
	}
	if err := zw.Close(); err != nil {
		return Stats{}, fmt.Errorf("build initramfs: %w", err)
	}
	return Stats{Entries: len(a.entries), Uncompressed: cw.n}, nil
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n += int64(n)
	return n, err
}

func assemble(s Spec) (*archive, error) {
	a := newArchive()
	for _, d := range baseDirs {
		if s.MergedUsr && d.name == "sbin" {
			continue
		}
		if err := a.dir(d.name, d.perm); err != nil {
			return nil, err
		}
	}
	if s.MergedUsr {
		for _, l := range mergedUsr {
			if err := a.dir(l.target, 0o755); err != nil {
				return nil, err
			}
			if err := a.symlink(l.name, l.target); err != nil {
				return nil, err
			}
		}
	}
	for _, d := range s.Dirs {
		name, err := guestPath(d.Path)
		if err != nil {
			return nil, err
		}
		if err := checkPerm(d.Mode); err != nil {
			return nil, fmt.Errorf("directory %s: %w", d.Path, err)
		}
		if err := a.setDir(name, cpioPerm(d.Mode)); err != nil {
			return nil, err
		}
	}
	for _, l := range s.Symlinks {
		name, err := guestPath(l.Path)
		if err != nil {
			return nil, err
		}
		if err := a.symlink(name, l.Target); err != nil {
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
		if err := checkPerm(f.Mode); err != nil {
			return nil, fmt.Errorf("file %s: %w", f.Dst, err)
		}
		if f.Src == "" {
			perm := cpioPerm(f.Mode)
			if f.Mode == 0 {
				perm = 0o644
			}
			if err := a.addBytes(name, perm, f.Data); err != nil {
				return nil, fmt.Errorf("file %s: %w", f.Dst, err)
			}
			continue
		}
		if f.Data != nil {
			return nil, fmt.Errorf("file %s: both a source and data", f.Dst)
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
		dst := path.Join(modulesRoot(s), s.KernelVersion, kmod.StripCompression(m.Path))
		if err := a.addBytes(dst, 0o644, data); err != nil {
			return err
		}
		list.WriteString("/" + dst + "\n")
	}
	return a.addBytes(strings.TrimPrefix(ModulesLoad, "/"), 0o644, []byte(list.String()))
}

func checkPerm(m os.FileMode) error {
	if m&^(os.ModePerm|os.ModeSetuid|os.ModeSetgid|os.ModeSticky) != 0 {
		return fmt.Errorf("mode %v is not a permission mode", m)
	}
	return nil
}

// modulesRoot is where modules go: /lib/modules, which is /usr/lib/modules
// on a merged-/usr system.
func modulesRoot(s Spec) string {
	if s.MergedUsr {
		return "usr/lib/modules"
	}
	return "lib/modules"
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
