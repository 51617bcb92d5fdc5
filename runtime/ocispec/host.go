package ocispec

import (
	"io/fs"
	"os"
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
