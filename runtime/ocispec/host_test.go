package ocispec

import (
	"io/fs"
	"time"
)

// fakeHost answers for the paths it was given; everything else does not
// exist.
type fakeHost map[string]fakeFile

type fakeFile struct {
	mode  fs.FileMode
	tmpfs uint64 // size when on a tmpfs
}

var (
	dir  = fakeFile{mode: fs.ModeDir | 0o755}
	file = fakeFile{mode: 0o644}
)

func (h fakeHost) Stat(p string) (fs.FileInfo, error) {
	f, ok := h[p]
	if !ok {
		return nil, &fs.PathError{Op: "stat", Path: p, Err: fs.ErrNotExist}
	}
	return fakeInfo{name: p, f: f}, nil
}

func (h fakeHost) Tmpfs(p string) (bool, uint64, error) {
	f, ok := h[p]
	if !ok {
		return false, 0, &fs.PathError{Op: "statfs", Path: p, Err: fs.ErrNotExist}
	}
	return f.tmpfs > 0, f.tmpfs, nil
}

type fakeInfo struct {
	name string
	f    fakeFile
}

func (i fakeInfo) Name() string       { return i.name }
func (i fakeInfo) Size() int64        { return 0 }
func (i fakeInfo) Mode() fs.FileMode  { return i.f.mode }
func (i fakeInfo) ModTime() time.Time { return time.Time{} }
func (i fakeInfo) IsDir() bool        { return i.f.mode.IsDir() }
func (i fakeInfo) Sys() any           { return nil }
