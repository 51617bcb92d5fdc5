package ocispec

import (
	"io/fs"

	"golang.org/x/sys/unix"
)

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
