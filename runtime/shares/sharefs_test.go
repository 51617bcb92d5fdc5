package shares_test

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"

	"github.com/runxen/runxen/runtime/iolimit"
	"github.com/runxen/runxen/runtime/p9"
	"github.com/runxen/runxen/runtime/shares"
	"github.com/runxen/runxen/runtime/xen9pfs/xen9pfstest"
)

// frontConn is a 9P byte stream over a fake frontend: each whole message
// written is sent as the Linux frontend would, on ring tag % 2, and its
// reply is read back.
type frontConn struct {
	f   *xen9pfstest.Frontend
	ctx context.Context
	pr  *io.PipeReader
	pw  *io.PipeWriter
	mu  sync.Mutex
	buf []byte
}

func newFrontConn(ctx context.Context, f *xen9pfstest.Frontend) *frontConn {
	pr, pw := io.Pipe()
	return &frontConn{f: f, ctx: ctx, pr: pr, pw: pw}
}

func (c *frontConn) Read(p []byte) (int, error) { return c.pr.Read(p) }

func (c *frontConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.buf = append(c.buf, p...)
	for len(c.buf) >= 4 {
		n := int(binary.LittleEndian.Uint32(c.buf))
		if n < 7 || len(c.buf) < n {
			break
		}
		msg := append([]byte(nil), c.buf[:n]...)
		c.buf = c.buf[n:]
		go func() {
			r, err := c.f.RoundTrip(c.ctx, msg)
			if err != nil {
				c.pw.CloseWithError(err)
				return
			}
			c.pw.Write(r)
		}()
	}
	return len(p), nil
}

func (c *frontConn) Close() error {
	c.pw.Close()
	return nil
}

// TestWithSharefs: the real file server behind the Set, spoken to in 9P
// through the fake frontend: files land in the host directory, a
// read-only share refuses writes, and its limiter counts what it served.
func TestWithSharefs(t *testing.T) {
	e := newEnv(t, 5)
	s, err := shares.New(e.ctx, shares.Config{Store: e.hostXS, Devices: e.hostDev, Domain: 5})
	must(t, err)
	rw, ro := t.TempDir(), t.TempDir()
	must(t, os.WriteFile(filepath.Join(ro, "existing"), []byte("old"), 0o644))
	must(t, s.Add(ctxT(t), shares.Spec{Tag: "rootfs", Dir: rw}))
	must(t, s.Add(ctxT(t), shares.Spec{Tag: "ro", Dir: ro, ReadOnly: true}))
	fr := e.connect(s, 5, "rootfs")
	fo := e.connect(s, 5, "ro")
	must(t, s.WaitConnected(ctxT(t)))

	client := func(f *xen9pfstest.Frontend) p9.File {
		conn := newFrontConn(ctxT(t), f)
		c, err := p9.NewClient(conn, p9.WithMessageSize(64<<10))
		must(t, err)
		t.Cleanup(func() { c.Close() })
		root, err := c.Attach("")
		must(t, err)
		return root
	}

	root := client(fr)
	_, dir, err := root.Walk(nil)
	must(t, err)
	f, _, _, err := dir.Create("hello", p9.ReadWrite, 0o640, p9.NoGID)
	must(t, err)
	data := make([]byte, 200<<10) // several messages at a 64 KiB msize
	for i := range data {
		data[i] = byte(i * 7)
	}
	for off := 0; off < len(data); {
		n, err := f.WriteAt(data[off:], int64(off))
		must(t, err)
		off += n
	}
	must(t, f.FSync(false))
	must(t, f.Close())
	got, err := os.ReadFile(filepath.Join(rw, "hello"))
	if err != nil || string(got) != string(data) {
		t.Fatalf("host file: %d bytes, %v", len(got), err)
	}
	if st, _ := os.Stat(filepath.Join(rw, "hello")); st.Mode().Perm() != 0o640 {
		t.Errorf("host file mode %v", st.Mode())
	}
	if st := status(t, s, "rootfs").Stats; st.WriteBytes != uint64(len(data)) || st.WriteOps == 0 {
		t.Errorf("limiter counted %+v, want %d bytes written", st, len(data))
	}
	must(t, s.SetLimits("rootfs", iolimit.Limits{ReadOpsPerSec: 1000}))

	ror := client(fo)
	_, rdir, err := ror.Walk(nil)
	must(t, err)
	if _, _, _, err := rdir.Create("new", p9.WriteOnly, 0o644, p9.NoGID); !errors.Is(err, syscall.EROFS) {
		t.Errorf("create on the read-only share: %v", err)
	}
	if err := ror.UnlinkAt("existing", 0); !errors.Is(err, syscall.EROFS) {
		t.Errorf("unlink on the read-only share: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(ro, "existing")); string(b) != "old" {
		t.Errorf("read-only file now %q", b)
	}

	must(t, s.Sync(ctxT(t)))
	must(t, s.Close())
	e.checkClean(5)
}
