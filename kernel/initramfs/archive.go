package initramfs

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"os"
	"path"
	"slices"
	"strings"
)

// entry is one archive member. Regular files come either from memory
// (generated files, decompressed modules) or from a host file read at write
// time, so a large /init is not held in memory twice. A symbolic link's
// target is its data.
type entry struct {
	mode      uint32 // newc type and permission bits
	data      []byte
	src       string
	size      int64
	rdevMajor uint32
	rdevMinor uint32
}

// archive is the rootfs being assembled, keyed by path without a leading
// slash ("dev/console").
type archive struct {
	entries map[string]*entry
}

func newArchive() *archive { return &archive{entries: map[string]*entry{}} }

// guestPath turns a guest path such as "/etc/runxen/x" into an archive name,
// refusing anything that would land outside the rootfs or replace it.
func guestPath(p string) (string, error) {
	if !strings.HasPrefix(p, "/") {
		return "", fmt.Errorf("guest path %q is not absolute", p)
	}
	clean := strings.TrimPrefix(path.Clean(p), "/")
	if clean == "" || clean != strings.TrimPrefix(p, "/") {
		return "", fmt.Errorf("guest path %q is not a clean file path", p)
	}
	return clean, nil
}

// dir adds a directory and its parents. Adding an existing directory is
// fine; adding one where a file is, is not.
func (a *archive) dir(name string, perm uint32) error {
	if parent := path.Dir(name); parent != "." {
		if err := a.dir(parent, 0o755); err != nil {
			return err
		}
	}
	if e, ok := a.entries[name]; ok {
		if e.mode&modeType != modeDir {
			return fmt.Errorf("/%s is both a file and a directory", name)
		}
		return nil
	}
	a.entries[name] = &entry{mode: modeDir | perm}
	return nil
}

// setDir adds a directory with the given permissions, or sets them on one
// that exists.
func (a *archive) setDir(name string, perm uint32) error {
	if err := a.dir(name, perm); err != nil {
		return err
	}
	a.entries[name].mode = modeDir | perm
	return nil
}

// symlink adds a symbolic link to target.
func (a *archive) symlink(name, target string) error {
	if target == "" || strings.ContainsRune(target, 0) {
		return fmt.Errorf("/%s: unusable link target %q", name, target)
	}
	return a.add(name, &entry{mode: modeLink | 0o777, data: []byte(target), size: int64(len(target))})
}

// add adds a non-directory entry; each path may be added once.
func (a *archive) add(name string, e *entry) error {
	if _, ok := a.entries[name]; ok {
		return fmt.Errorf("/%s added twice", name)
	}
	if parent := path.Dir(name); parent != "." {
		if err := a.dir(parent, 0o755); err != nil {
			return err
		}
	}
	if e.size > math.MaxUint32 {
		return fmt.Errorf("/%s: %d bytes is too large for cpio", name, e.size)
	}
	a.entries[name] = e
	return nil
}

func (a *archive) addBytes(name string, perm uint32, data []byte) error {
	return a.add(name, &entry{mode: modeReg | perm, data: data, size: int64(len(data))})
}

// addHostFile adds the regular host file src. A perm of zero keeps the
// source's permission bits.
func (a *archive) addHostFile(name, src string, perm uint32) error {
	fi, err := os.Stat(src)
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", src)
	}
	if perm == 0 {
		perm = uint32(fi.Mode().Perm())
	}
	return a.add(name, &entry{mode: modeReg | perm, src: src, size: fi.Size()})
}

// writeTo writes the archive in path order. Sorting makes the output
// independent of insertion order, and puts every directory before its
// contents, as the kernel's unpacker needs.
func (a *archive) writeTo(w io.Writer) error {
	names := make([]string, 0, len(a.entries))
	for n := range a.entries {
		names = append(names, n)
	}
	slices.Sort(names)
	c := &newcWriter{w: w}
	for _, n := range names {
		if err := a.writeEntry(c, n, a.entries[n]); err != nil {
			return fmt.Errorf("archive /%s: %w", n, err)
		}
	}
	return c.close()
}

func (a *archive) writeEntry(c *newcWriter, name string, e *entry) error {
	h := newcHeader{name: name, mode: e.mode, nlink: 1, size: uint32(e.size), rdevMajor: e.rdevMajor, rdevMinor: e.rdevMinor}
	if e.mode&modeType == modeDir {
		h.nlink = 2
	}
	if err := c.writeHeader(h); err != nil {
		return err
	}
	switch {
	case e.mode&modeType == modeLink:
		return c.writeData(bytes.NewReader(e.data), h.size)
	case e.mode&modeType != modeReg:
		return nil
	case e.src != "":
		f, err := os.Open(e.src)
		if err != nil {
			return err
		}
		defer f.Close()
		return c.writeData(f, h.size)
	default:
		return c.writeData(bytes.NewReader(e.data), h.size)
	}
}
