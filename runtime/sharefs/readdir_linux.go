//go:build linux

package sharefs

import (
	"encoding/binary"
	"math"

	"golang.org/x/sys/unix"

	"github.com/runxen/runxen/runtime/p9"
)

// Directory reads. A 9P Treaddir names the offset to continue from, which is
// the d_off cookie getdents64 gave for the last entry the client received;
// the kernel's cookies are stable across calls (lseek to them is how
// telldir/seekdir work), so a directory being changed meanwhile is read
// exactly as a local program would read it. Every call seeks to the offset
// asked for (one cheap system call), so the answer never depends on what an
// earlier reply left unsent.

// readdirBufSize bounds one getdents64 call: a reply holds at most what the
// client's count allows anyway, and this keeps the buffer small.
const readdirBufSize = 32 << 10

// direntOverhead is qid[13] offset[8] type[1] name length[2] of one entry in
// an Rreaddir.
const direntOverhead = 24

type dirState struct {
	dev uint64 // the directory's device, for its entries' QIDs
}

// Readdir implements p9.File.Readdir.
func (f *file) Readdir(offset uint64, count uint32) ([]p9.Dirent, error) {
	if err := f.sess.waitRead(0); err != nil {
		return nil, err
	}
	if offset > math.MaxInt64 {
		return nil, unix.EINVAL
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	fd := int(f.ioFD.Load())
	if fd < 0 || f.typ != unix.S_IFDIR {
		return nil, unix.EBADF
	}
	if _, err := unix.Seek(fd, int64(offset), 0); err != nil {
		return nil, errnoErr("readdir", err)
	}
	buf := make([]byte, min(int(count)+256, readdirBufSize))
	n, err := unix.Getdents(fd, buf)
	if err != nil {
		return nil, errnoErr("readdir", err)
	}
	var ents []p9.Dirent
	used := 0
	for off := 0; off < n; {
		// struct linux_dirent64: ino u64, off s64, reclen u16, type u8, name.
		if n-off < 19 {
			break
		}
		ino := binary.NativeEndian.Uint64(buf[off:])
		next := int64(binary.NativeEndian.Uint64(buf[off+8:]))
		reclen := int(binary.NativeEndian.Uint16(buf[off+16:]))
		typ := buf[off+18]
		if reclen < 19 || off+reclen > n {
			break
		}
		name := buf[off+19 : off+reclen]
		for i, c := range name {
			if c == 0 {
				name = name[:i]
				break
			}
		}
		off += reclen
		used += direntOverhead + len(name)
		if used > int(count) && len(ents) > 0 {
			// Does not fit this reply: continue from it next time.
			break
		}
		if string(name) == ".." && f.isShareRoot() {
			// The share's parent is dom0's business; report the root.
			ino = f.sess.share.rootIno
		}
		ents = append(ents, p9.Dirent{
			QID: p9.QID{
				Type: dtypeQID(typ),
				Path: f.sess.qidPath(f.dir.dev, ino),
			},
			Offset: uint64(next),
			Type:   typ, // d_type, which Linux passes on
			Name:   string(name),
		})
	}
	return ents, nil
}

func (f *file) isShareRoot() bool {
	st, err := fstat(f.fd)
	return err == nil && st.Dev == f.sess.share.rootDev && st.Ino == f.sess.share.rootIno
}

func dtypeQID(t uint8) p9.QIDType {
	switch t {
	case unix.DT_DIR:
		return p9.TypeDir
	case unix.DT_LNK:
		return p9.TypeSymlink
	default:
		return p9.TypeRegular
	}
}
