package ocispec

import (
	"io/fs"
	"os"

	"golang.org/x/sys/unix"
)

// Host is what the translation asks of the host's file systems about bind
// mount sources. Tests give a fake.
type Host interface {
	// Stat follows symlinks, as mount(2) does with a bind source.
	Stat(path string) (fs.FileInfo, error)
	// Tmpfs reports whether path is on a tmpfs, and its size in bytes.
	Tmpfs(path string) (ok bool, size uint64, err error)
}

// OSHost is the real host.
type OSHost struct{}

// Stat is os.Stat.
func (OSHost) Stat(path string) (fs.FileInfo, error) { return os.Stat(path) }

// Tmpfs asks statfs(2).
func (OSHost) Tmpfs(path string) (bool, uint64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return false, 0, &fs.PathError{Op: "statfs", Path: path, Err: err}
	}
	if st.Type != unix.TMPFS_MAGIC {
		return false, 0, nil
	}
	return true, st.Blocks * uint64(st.Bsize), nil
}
