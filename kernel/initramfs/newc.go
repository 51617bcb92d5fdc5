package initramfs

import (
	"fmt"
	"io"
)

// newc mode bits (cpio(5)); the same values as Linux's S_IF* constants.
const (
	modeDir  = 0o040000
	modeReg  = 0o100000
	modeChar = 0o020000
	modeLink = 0o120000
	modeType = 0o170000
)

// newcWriter writes a "new ASCII" (070701) cpio archive, the format the
// kernel unpacks into its initial rootfs (Documentation/driver-api/
// early-userspace/buffer-format.rst).
type newcWriter struct {
	w   io.Writer
	n   int64 // bytes written, for alignment
	ino uint32
}

// newcHeader holds the fields we set; the rest (device of the file system,
// checksum) are always zero.
type newcHeader struct {
	name      string
	mode      uint32
	nlink     uint32
	size      uint32
	rdevMajor uint32
	rdevMinor uint32
}

// writeHeader writes one header and the name. Inodes are numbered in write
// order, so the numbering depends only on the archive's contents; uid, gid
// and mtime are always zero.
func (c *newcWriter) writeHeader(h newcHeader) error {
	c.ino++
	ino := c.ino
	if h.name == trailerName {
		ino = 0
	}
	hdr := fmt.Sprintf("070701%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x",
		ino, h.mode, 0, 0, h.nlink, 0, h.size, 0, 0, h.rdevMajor, h.rdevMinor, len(h.name)+1, 0)
	if err := c.write([]byte(hdr + h.name + "\x00")); err != nil {
		return err
	}
	return c.pad()
}

// writeData writes a file body of exactly size bytes from r, then pads.
func (c *newcWriter) writeData(r io.Reader, size uint32) error {
	n, err := io.Copy(countWriter{c}, io.LimitReader(r, int64(size)))
	if err != nil {
		return err
	}
	if n != int64(size) {
		return fmt.Errorf("file shrank while archiving: wrote %d of %d bytes", n, size)
	}
	return c.pad()
}

const trailerName = "TRAILER!!!"

func (c *newcWriter) close() error {
	return c.writeHeader(newcHeader{name: trailerName, nlink: 1})
}

// pad aligns to 4 bytes, as both headers+names and file bodies must be.
func (c *newcWriter) pad() error {
	if r := c.n % 4; r != 0 {
		return c.write(make([]byte, 4-r))
	}
	return nil
}

func (c *newcWriter) write(b []byte) error {
	n, err := c.w.Write(b)
	c.n += int64(n)
	return err
}

type countWriter struct{ c *newcWriter }

func (w countWriter) Write(b []byte) (int, error) {
	n, err := w.c.w.Write(b)
	w.c.n += int64(n)
	return n, err
}
