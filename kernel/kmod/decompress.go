package kmod

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// Open opens a module file and returns its uncompressed contents, choosing
// the decompressor from the file name as the kernel build names them.
func Open(path string) (io.ReadCloser, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	r, err := decompressor(path, f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("decompress module %s: %w", path, err)
	}
	rc := &readCloser{Reader: r, file: f}
	if c, ok := r.(io.Closer); ok && r != io.Reader(f) {
		rc.dec = c
	}
	return rc, nil
}

// ReadModule returns the uncompressed contents of a module file.
func ReadModule(path string) ([]byte, error) {
	rc, err := Open(path)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		return nil, fmt.Errorf("decompress module %s: %w", path, err)
	}
	return data, nil
}

func decompressor(path string, f *os.File) (io.Reader, error) {
	switch {
	case strings.HasSuffix(path, ".ko"):
		return f, nil
	case strings.HasSuffix(path, ".ko.xz"):
		return xz.NewReader(bufio.NewReader(f))
	case strings.HasSuffix(path, ".ko.zst"):
		d, err := zstd.NewReader(f, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, err
		}
		return d.IOReadCloser(), nil
	case strings.HasSuffix(path, ".ko.gz"):
		return gzip.NewReader(bufio.NewReader(f))
	}
	return nil, fmt.Errorf("not a kernel module file name")
}

// readCloser releases both the decompressor (zstd keeps goroutines) and the
// file underneath it.
type readCloser struct {
	io.Reader
	dec  io.Closer
	file *os.File
}

func (r *readCloser) Close() error {
	if r.dec != nil {
		r.dec.Close()
	}
	return r.file.Close()
}
