package initramfs

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
	"testing"

	"github.com/klauspost/compress/gzip"
)

// member is one parsed newc entry, with every header field the tests check.
type member struct {
	name                 string
	ino, mode, uid, gid  uint64
	nlink, mtime         uint64
	rdevMajor, rdevMinor uint64
	data                 []byte
}

// readNewc parses a newc archive strictly, checking magic and alignment, so
// the tests catch format mistakes the kernel would reject.
func readNewc(data []byte) ([]member, error) {
	var out []member
	off := 0
	align := func() { off = (off + 3) &^ 3 }
	for {
		if off+110 > len(data) {
			return nil, fmt.Errorf("truncated header at %d", off)
		}
		h := data[off : off+110]
		if string(h[:6]) != "070701" {
			return nil, fmt.Errorf("bad magic %q at %d", h[:6], off)
		}
		field := func(i int) uint64 {
			v, err := strconv.ParseUint(string(h[6+8*i:14+8*i]), 16, 32)
			if err != nil {
				panic(err)
			}
			return v
		}
		m := member{ino: field(0), mode: field(1), uid: field(2), gid: field(3), nlink: field(4), mtime: field(5), rdevMajor: field(9), rdevMinor: field(10)}
		size, namesize := int(field(6)), int(field(11))
		off += 110
		if namesize < 1 || off+namesize > len(data) || data[off+namesize-1] != 0 {
			return nil, fmt.Errorf("bad name at %d", off)
		}
		m.name = string(data[off : off+namesize-1])
		off += namesize
		align()
		if off+size > len(data) {
			return nil, fmt.Errorf("truncated body of %s", m.name)
		}
		m.data = data[off : off+size]
		off += size
		align()
		if m.name == trailerName {
			return out, nil
		}
		out = append(out, m)
	}
}

func gunzip(t *testing.T, data []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if zr.Name != "" || !zr.ModTime.IsZero() {
		t.Errorf("gzip header carries name %q / mtime %v", zr.Name, zr.ModTime)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
