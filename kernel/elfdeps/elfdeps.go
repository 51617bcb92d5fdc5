// Package elfdeps finds what a dynamically linked program needs at run time
// inside an unpacked file tree: its ELF interpreter (PT_INTERP) and the
// shared libraries named by DT_NEEDED, recursively, found the way glibc's
// dynamic loader would find them in a guest that has no ld.so.cache, and
// the symbolic links on the way to each.
//
// The tree is read as the root of a merged-/usr system: /bin, /sbin, /lib
// and the other MergedDirs are /usr's, as on Debian since bookworm, whether
// the tree has those links or, being a few packages unpacked with dpkg-deb,
// has files under both. Paths this package returns are canonical: under
// /usr wherever a merged directory is involved. An image that places the
// entries at their paths and adds the MergedDirs links is laid out as the
// loader expects. Symbolic links never leave the tree: absolute targets are
// taken relative to its root.
package elfdeps

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// MergedDirs are the top-level directories that are links into /usr on a
// merged-/usr system.
var MergedDirs = []string{"bin", "sbin", "lib", "lib32", "lib64", "libx32"}

// Canonical maps a clean absolute path to where it lives on a merged-/usr
// system: /lib/x becomes /usr/lib/x. Other paths are returned unchanged.
func Canonical(p string) string {
	top, rest, _ := strings.Cut(strings.TrimPrefix(p, "/"), "/")
	if !slices.Contains(MergedDirs, top) {
		return p
	}
	return path.Join("/usr", top, rest)
}

// unmerged is the inverse of Canonical: where a package that predates the
// /usr merge ships the file that canonical path p names.
func unmerged(p string) (string, bool) {
	rest, ok := strings.CutPrefix(p, "/usr/")
	if !ok {
		return "", false
	}
	top, _, _ := strings.Cut(rest, "/")
	if !slices.Contains(MergedDirs, top) {
		return "", false
	}
	return "/" + rest, true
}

// Entry is one file system object a program needs.
type Entry struct {
	// Path is the canonical absolute path in the guest.
	Path string
	// Src is the host path of a regular file's content.
	Src string
	// Mode holds a regular file's permission bits (with setuid, setgid
	// and sticky).
	Mode fs.FileMode
	// Target is a symbolic link's target; empty for regular files.
	Target string
}

// IsSymlink reports whether e is a symbolic link.
func (e Entry) IsSymlink() bool { return e.Target != "" }

// maxLinks bounds symbolic link resolution, like the kernel's ELOOP limit.
const maxLinks = 40

// Lookup resolves the absolute path p in the tree at root, following
// symbolic links inside the tree. It returns the regular file p names and
// the links passed on the way, in the order they were followed.
func Lookup(root, p string) (file Entry, links []Entry, err error) {
	canon, host, fi, links, err := lookup(root, p)
	if err != nil {
		return Entry{}, nil, err
	}
	if !fi.Mode().IsRegular() {
		return Entry{}, nil, fmt.Errorf("%s: not a regular file", p)
	}
	return Entry{Path: canon, Src: host, Mode: fi.Mode() & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)}, links, nil
}

func lookup(root, p string) (canon, host string, fi fs.FileInfo, links []Entry, err error) {
	if !path.IsAbs(p) {
		return "", "", nil, nil, fmt.Errorf("%q is not an absolute path", p)
	}
	rest := strings.Split(p, "/")
	cur := "/"
	hops := 0
	for len(rest) > 0 {
		c := rest[0]
		rest = rest[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			cur = path.Dir(cur)
			fi = nil
			continue
		}
		next := Canonical(path.Join(cur, c))
		h, info, alias, err := lstat(root, next)
		if err != nil {
			return "", "", nil, nil, fmt.Errorf("%s: %s is not in the tree", p, next)
		}
		if info.Mode()&fs.ModeSymlink != 0 {
			if hops++; hops > maxLinks {
				return "", "", nil, nil, fmt.Errorf("%s: too many levels of symbolic links", p)
			}
			target, err := os.Readlink(h)
			if err != nil {
				return "", "", nil, nil, err
			}
			if target == "" {
				return "", "", nil, nil, fmt.Errorf("%s: empty symbolic link %s", p, next)
			}
			// A relative link found where an unmerged package put it is
			// relative to that place; moved under /usr it would point
			// elsewhere, so make it absolute.
			if alias != "" && !path.IsAbs(target) {
				target = path.Join(path.Dir(alias), target)
			}
			links = append(links, Entry{Path: next, Target: target})
			if path.IsAbs(target) {
				cur = "/"
			}
			rest = append(strings.Split(target, "/"), rest...)
			continue
		}
		if !info.IsDir() && slices.ContainsFunc(rest, func(s string) bool { return s != "" }) {
			return "", "", nil, nil, fmt.Errorf("%s: %s is not a directory", p, next)
		}
		cur, host, fi = next, h, info
	}
	if fi == nil {
		return "", "", nil, nil, fmt.Errorf("%s: names a directory", p)
	}
	return cur, host, fi, links, nil
}

// lstat finds the canonical path p in the tree: at p itself, or where a
// package that predates the /usr merge put it. The unmerged place counts
// only if its top-level directory is a real directory in the tree: a link
// there (such as lib -> usr/lib) says nothing new, and an absolute one
// would lead out of the tree.
func lstat(root, p string) (host string, fi fs.FileInfo, alias string, err error) {
	host = filepath.Join(root, filepath.FromSlash(p))
	fi, err = os.Lstat(host)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return host, fi, "", err
	}
	a, ok := unmerged(p)
	if !ok {
		return host, nil, "", err
	}
	top, _, _ := strings.Cut(a[1:], "/")
	if tfi, terr := os.Lstat(filepath.Join(root, top)); terr != nil || !tfi.IsDir() {
		return host, nil, "", err
	}
	ah := filepath.Join(root, filepath.FromSlash(a))
	afi, aerr := os.Lstat(ah)
	if aerr != nil {
		return host, nil, "", err
	}
	return ah, afi, a, nil
}
