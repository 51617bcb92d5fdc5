package p9_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/runxen/runxen/runtime/p9"
	"github.com/runxen/runxen/runtime/p9/p9test"
)

func TestClientServerOperations(t *testing.T) {
	tests := []struct {
		name string
		run  func(t *testing.T, e *clientEnv)
	}{
		{"create write read", func(t *testing.T, e *clientEnv) {
			_, d, err := e.root.Walk(nil)
			must(t, err)
			f, qid, _, err := d.Create("f", p9.ReadWrite, 0o640, p9.NoGID)
			must(t, err)
			defer f.Close()
			if qid.Type != p9.TypeRegular || qid.Path == 0 {
				t.Fatalf("qid %+v", qid)
			}
			// More than one message's worth, so the client splits it.
			data := bytes.Repeat([]byte("0123456789abcdef"), 10000)
			n, err := f.WriteAt(data, 0)
			must(t, err)
			if n != len(data) {
				t.Fatalf("wrote %d", n)
			}
			got := make([]byte, len(data)+10)
			n, err = f.ReadAt(got, 0)
			if n != len(data) || err != io.EOF {
				t.Fatalf("read %d, %v", n, err)
			}
			if !bytes.Equal(got[:n], data) {
				t.Fatal("read back different data")
			}
		}},
		{"read-only fid refuses writes", func(t *testing.T, e *clientEnv) {
			_, d, _ := e.root.Walk(nil)
			f, _, _, err := d.Create("f", p9.WriteOnly, 0o644, p9.NoGID)
			must(t, err)
			f.Close()
			_, r, err := e.root.Walk([]string{"f"})
			must(t, err)
			defer r.Close()
			_, err = r.WriteAt([]byte("x"), 0)
			wantErrno(t, err, syscall.EBADF) // not open
			_, _, err = r.Open(p9.ReadOnly)
			must(t, err)
			_, err = r.WriteAt([]byte("x"), 0)
			wantErrno(t, err, syscall.EBADF)
			_, _, err = r.Open(p9.ReadOnly)
			wantErrno(t, err, syscall.EINVAL) // already open
		}},
		{"modes pass exactly, setuid and setgid included", func(t *testing.T, e *clientEnv) {
			_, d, _ := e.root.Walk(nil)
			f, _, _, err := d.Create("suid", p9.WriteOnly, 0o4755, p9.NoGID)
			must(t, err)
			defer f.Close()
			_, _, attr, err := f.GetAttr(p9.AttrMode)
			must(t, err)
			if attr.Mode != p9.ModeRegular|0o4755 {
				t.Fatalf("mode %o", attr.Mode)
			}
			must(t, f.SetAttr(p9.SetAttrMode, p9.SetAttr{Mode: 0o6711}))
			_, _, attr, _ = f.GetAttr(p9.AttrMode)
			if attr.Mode != p9.ModeRegular|0o6711 {
				t.Fatalf("mode after chmod %o", attr.Mode)
			}
			_, err = e.root.Mkdir("sgid", 0o2775, 100)
			must(t, err)
			_, dd, err := e.root.Walk([]string{"sgid"})
			must(t, err)
			defer dd.Close()
			_, _, attr, _ = dd.GetAttr(p9.AttrAll)
			if attr.Mode != p9.ModeDirectory|0o2775 || attr.GID != 100 {
				t.Fatalf("dir mode %o gid %d", attr.Mode, attr.GID)
			}
		}},
		{"directories", func(t *testing.T, e *clientEnv) {
			for i := range 50 {
				_, err := e.root.Mkdir(fmt.Sprintf("d%02d", i), 0o755, p9.NoGID)
				must(t, err)
			}
			_, d, _ := e.root.Walk(nil)
			defer d.Close()
			_, _, err := d.Open(p9.ReadOnly)
			must(t, err)
			var names []string
			var off uint64
			for {
				ents, err := d.Readdir(off, 200) // a few entries per call
				must(t, err)
				if len(ents) == 0 {
					break
				}
				for _, ent := range ents {
					names = append(names, ent.Name)
				}
				off = ents[len(ents)-1].Offset
			}
			if len(names) != 52 || names[0] != "." || names[1] != ".." || names[51] != "d49" {
				t.Fatalf("readdir: %d names %v", len(names), names)
			}
			_, err = e.root.Mkdir("d00", 0o755, p9.NoGID)
			wantErrno(t, err, syscall.EEXIST)
			_, err = e.root.Mkdir("d00/x", 0o755, p9.NoGID)
			wantErrno(t, err, syscall.EINVAL)
		}},
		{"symlinks, links, renames, unlinks", func(t *testing.T, e *clientEnv) {
			_, err := e.root.Symlink("../../etc/passwd", "l", p9.NoGID)
			must(t, err)
			_, l, err := e.root.Walk([]string{"l"})
			must(t, err)
			defer l.Close()
			target, err := l.Readlink()
			must(t, err)
			if target != "../../etc/passwd" {
				t.Fatalf("readlink %q", target)
			}
			_, err = e.root.Mkdir("a", 0o755, p9.NoGID)
			must(t, err)
			_, a, _ := e.root.Walk([]string{"a"})
			defer a.Close()
			must(t, e.root.Link(l, "l2"))
			must(t, e.root.RenameAt("l2", a, "l3"))
			_, l3, err := e.root.Walk([]string{"a", "l3"})
			must(t, err)
			l3.Close()
			wantErrno(t, e.root.UnlinkAt("a", 0), syscall.EISDIR)
			wantErrno(t, e.root.UnlinkAt("a", p9.AtRemoveDir), syscall.ENOTEMPTY)
			must(t, a.UnlinkAt("l3", 0))
			must(t, e.root.UnlinkAt("a", p9.AtRemoveDir))
			wantErrno(t, e.root.UnlinkAt("a", p9.AtRemoveDir), syscall.ENOENT)
			wantErrno(t, e.root.UnlinkAt("..", 0), syscall.EINVAL)
			_, err = e.root.Mknod("fifo", p9.ModeNamedPipe|0o600, 0, 0, p9.NoGID)
			must(t, err)
			_, err = e.root.Mknod("dev", p9.ModeCharacterDevice|0o600, 1, 3, p9.NoGID)
			wantErrno(t, err, syscall.EPERM)
		}},
		{"xattrs", func(t *testing.T, e *clientEnv) {
			must(t, e.root.SetXattr("user.a", []byte("1"), 0))
			must(t, e.root.SetXattr("user.empty", nil, 0))
			big := bytes.Repeat([]byte("v"), 40<<10) // several Twrites
			must(t, e.root.SetXattr("user.big", big, p9.XattrCreate))
			wantErrno(t, e.root.SetXattr("user.big", big, p9.XattrCreate), syscall.EEXIST)
			wantErrno(t, e.root.SetXattr("user.none", []byte("x"), p9.XattrReplace), syscall.ENODATA)
			got, err := e.root.GetXattr("user.big")
			must(t, err)
			if !bytes.Equal(got, big) {
				t.Fatalf("value of %d bytes", len(got))
			}
			if v, err := e.root.GetXattr("user.empty"); err != nil || len(v) != 0 {
				t.Fatalf("empty value: %q %v", v, err)
			}
			names, err := e.root.ListXattrs()
			must(t, err)
			sort.Strings(names)
			if fmt.Sprint(names) != "[user.a user.big user.empty]" {
				t.Fatalf("list %v", names)
			}
			must(t, e.root.RemoveXattr("user.a"))
			_, err = e.root.GetXattr("user.a")
			wantErrno(t, err, syscall.ENODATA)
			wantErrno(t, e.root.RemoveXattr("user.a"), syscall.ENODATA)
			wantErrno(t, e.root.SetXattr("", []byte("x"), 0), syscall.ERANGE)
			wantErrno(t, e.root.SetXattr("user.huge", make([]byte, p9.MaxXattrSize+1), 0), syscall.E2BIG)
		}},
		{"statfs fsync locks", func(t *testing.T, e *clientEnv) {
			st, err := e.root.StatFS()
			must(t, err)
			if st.NameLength != 255 || st.BlockSize != 4096 {
				t.Fatalf("statfs %+v", st)
			}
			_, d, _ := e.root.Walk(nil)
			f, _, _, err := d.Create("f", p9.ReadWrite, 0o644, p9.NoGID)
			must(t, err)
			defer f.Close()
			must(t, f.FSync(false))
			must(t, f.FSync(true))
			s, err := f.Lock(p9.LockBlock, p9.LockInfo{Type: p9.WriteLock, Length: 10, ProcID: 1, ClientID: "me"})
			if err != nil || s != p9.LockOK {
				t.Fatalf("lock %v %v", s, err)
			}
			got, err := f.GetLock(p9.LockInfo{Type: p9.ReadLock, ClientID: "me"})
			if err != nil || got.Type != p9.Unlock || got.ClientID != "me" {
				t.Fatalf("getlock %+v %v", got, err)
			}
			_, err = f.Lock(0, p9.LockInfo{Type: 7})
			wantErrno(t, err, syscall.EINVAL)
			_, g, _ := e.root.Walk([]string{"f"})
			defer g.Close()
			_, err = g.Lock(0, p9.LockInfo{Type: p9.ReadLock})
			wantErrno(t, err, syscall.EBADF) // not open
			wantErrno(t, g.FSync(false), syscall.EBADF)
		}},
		{"remove and rename fall back to EOPNOTSUPP", func(t *testing.T, e *clientEnv) {
			_, err := e.root.Mkdir("d", 0o755, p9.NoGID)
			must(t, err)
			_, d, _ := e.root.Walk([]string{"d"})
			wantErrno(t, d.(p9.Renamer).Rename(e.root, "e"), syscall.EOPNOTSUPP)
			before := e.fs.OpenFiles()
			wantErrno(t, d.(p9.Remover).Remove(), syscall.EOPNOTSUPP)
			// Tremove clunked the fid anyway.
			if after := e.fs.OpenFiles(); after != before-1 {
				t.Fatalf("%d Files open after Tremove, %d before", after, before)
			}
		}},
		{"auth is refused", func(t *testing.T, e *clientEnv) {
			_, err := e.client.Call(&p9.Tauth{AFID: 50, UName: "root", NUName: 0})
			wantErrno(t, err, syscall.EOPNOTSUPP)
			_, err = e.client.Call(&p9.Tattach{FID: 51, AFID: 50, NUName: 0})
			wantErrno(t, err, syscall.EBADF)
		}},
		{"walks", func(t *testing.T, e *clientEnv) {
			_, err := e.root.Mkdir("a", 0o755, p9.NoGID)
			must(t, err)
			_, a, _ := e.root.Walk([]string{"a"})
			_, err = a.Mkdir("b", 0o755, p9.NoGID)
			must(t, err)
			a.Close()
			qids, b, err := e.root.Walk([]string{"a", "b"})
			must(t, err)
			defer b.Close()
			if len(qids) != 2 || qids[1].Type != p9.TypeDir {
				t.Fatalf("qids %+v", qids)
			}
			_, _, err = e.root.Walk([]string{"a", "missing"})
			wantErrno(t, err, syscall.ENOENT)
			_, _, err = e.root.Walk([]string{"a", ".."})
			wantErrno(t, err, syscall.EINVAL)
			_, _, err = e.root.Walk(make([]string, 17))
			wantErrno(t, err, syscall.EINVAL) // refused by the client
			// A walk onto a fid in use, and onto itself.
			_, err = e.client.Call(&p9.Twalk{FID: 0, NewFID: 0, Names: []string{"a"}})
			wantErrno(t, err, syscall.EBADF) // fid 0 was never attached by this client
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.run(t, newClientEnv(t, nil))
		})
	}
}

func TestVersionNegotiation(t *testing.T) {
	fs := p9test.New()
	version := func(rc *rawConn, msize uint32, v string) *p9.Rversion {
		t.Helper()
		r := rc.rpc(p9.NoTag, &p9.Tversion{MSize: msize, Version: v})
		rv, ok := r.msg.(*p9.Rversion)
		if !ok {
			t.Fatalf("reply %#v", r.msg)
		}
		return rv
	}
	rc := dialRaw(t, &p9.Server{Attacher: fs, MaxMessageSize: 128 << 10}, nil)
	for _, tc := range []struct {
		msize       uint32
		version     string
		wantMsize   uint32
		wantVersion string
	}{
		{1 << 30, "9P2000.L", 128 << 10, "9P2000.L"},
		{8192, "9P2000.L", 8192, "9P2000.L"},
		{65536, "9P2000.L.Google.7", 65536, "9P2000.L"},
		{8192, "9P2000.u", 8192, "unknown"},
		{8192, "9P2000", 8192, "unknown"},
		{8192, "9P2000.LL", 8192, "unknown"},
		{100, "9P2000.L", 100, "unknown"},
	} {
		rv := version(rc, tc.msize, tc.version)
		if rv.MSize != tc.wantMsize || rv.Version != tc.wantVersion {
			t.Errorf("Tversion %d %q: Rversion %d %q", tc.msize, tc.version, rv.MSize, rv.Version)
		}
	}
	// After "unknown", no session: anything but Tversion is a violation.
	must(t, rc.send(1, &p9.Tattach{FID: 0, AFID: p9.NoFID}))
	if err := rc.closedByServer(); !errors.Is(err, p9.ErrProtocol) {
		t.Fatalf("Serve: %v", err)
	}

	// A transport that carries at most 16 KiB lowers the msize.
	small := dialRaw(t, &p9.Server{Attacher: fs}, func(c net.Conn) io.ReadWriteCloser { return maxMsgConn{c, 16 << 10} })
	if rv := version(small, 1<<20, p9.Version); rv.MSize != 16<<10 {
		t.Fatalf("msize over a 16 KiB transport: %d", rv.MSize)
	}
	// The client accepts what the server offers.
	conn, _ := serve(t, &p9.Server{Attacher: fs, MaxMessageSize: 8192}, nil)
	c, err := p9.NewClient(conn, p9.WithMessageSize(1<<20))
	must(t, err)
	defer c.Close()
	if c.MessageSize() != 8192 {
		t.Fatalf("client msize %d", c.MessageSize())
	}
}

type maxMsgConn struct {
	net.Conn
	max int
}

func (c maxMsgConn) MaxMessageSize() int { return c.max }

func TestProtocolViolationsCloseTheConnection(t *testing.T) {
	frame := func(typ p9.MsgType, tag uint16, body []byte) []byte {
		b := binary.LittleEndian.AppendUint32(nil, uint32(7+len(body)))
		b = append(b, uint8(typ))
		b = binary.LittleEndian.AppendUint16(b, tag)
		return append(b, body...)
	}
	version := func(msize uint32) []byte {
		b, _ := p9.AppendMessage(nil, p9.NoTag, &p9.Tversion{MSize: msize, Version: p9.Version})
		return b
	}
	walk17 := binary.LittleEndian.AppendUint16(make([]byte, 8), 17)
	for range 17 {
		walk17 = append(walk17, 1, 0, 'd')
	}
	tests := map[string][][]byte{
		"message before Tversion":    {frame(p9.MsgTattach, 1, make([]byte, 16))},
		"undecodable message":        {version(8192), frame(p9.MsgTwalk, 2, binary.LittleEndian.AppendUint16(make([]byte, 8), 5))},
		"walk of 17 names":           {version(8192), frame(p9.MsgTwalk, 2, walk17)},
		"trailing bytes":             {version(8192), frame(p9.MsgTclunk, 2, make([]byte, 5))},
		"message larger than msize":  {version(8192), frame(p9.MsgTwrite, 2, make([]byte, 9000))},
		"size smaller than a header": {version(8192), {3, 0, 0, 0, 0, 0, 0}},
		"4 GiB size":                 {version(8192), {0xff, 0xff, 0xff, 0xff, uint8(p9.MsgTwrite), 0, 0}},
		"malformed Tversion":         {frame(p9.MsgTversion, p9.NoTag, []byte{1, 2})},
		"huge first message":         {{0, 0, 0, 0x10, uint8(p9.MsgTversion), 0xff, 0xff}},
	}
	for name, msgs := range tests {
		t.Run(name, func(t *testing.T) {
			fs := p9test.New()
			rc := dialRaw(t, &p9.Server{Attacher: fs}, nil)
			go func() {
				for _, m := range msgs {
					if rc.sendBytes(m) != nil {
						return
					}
				}
			}()
			if err := rc.closedByServer(); !errors.Is(err, p9.ErrProtocol) {
				t.Fatalf("Serve returned %v, want a protocol error", err)
			}
			if fs.OpenFiles() != 0 {
				t.Fatal("files left open")
			}
		})
	}
}

func TestUnknownMessagesAreENOSYS(t *testing.T) {
	rc := dialRaw(t, &p9.Server{Attacher: p9test.New()}, nil)
	rc.handshake(8192)
	for _, typ := range []p9.MsgType{1, 6, 112, 114, 124, 126, 200, p9.MsgRread, p9.MsgRlerror} {
		b := []byte{11, 0, 0, 0, uint8(typ), 5, 0, 1, 2, 3, 4}
		must(t, rc.sendBytes(b))
		r := rc.recv()
		if r.h.Tag != 5 || r.errno() != uint32(syscall.ENOSYS) {
			t.Fatalf("type %d: reply %v errno %d, want ENOSYS", typ, r.h.Type, r.errno())
		}
	}
	if r := rc.rpc(2, &p9.Twalk{FID: 0, NewFID: 1}); r.h.Type != p9.MsgRwalk {
		t.Fatal("connection unusable after unknown messages")
	}
}

func TestTagReusedInFlightClosesTheConnection(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	fs := p9test.New()
	h := &hooks{statfs: func() { entered <- struct{}{}; <-release }}
	rc := dialRaw(t, &p9.Server{Attacher: hookedFS{fs, h}}, nil)
	rc.handshake(8192)
	must(t, rc.send(7, &p9.Tstatfs{FID: 0}))
	<-entered
	go rc.send(7, &p9.Tgetattr{FID: 0, Mask: p9.AttrBasic})
	// The violation closes the connection while tag 7 is still being
	// handled; Serve waits for it.
	time.AfterFunc(100*time.Millisecond, func() { close(release) })
	if err := rc.closedByServer(); !errors.Is(err, p9.ErrProtocol) {
		t.Fatalf("Serve: %v", err)
	}
	if fs.OpenFiles() != 0 || fs.DoubleCloses() != 0 {
		t.Fatalf("open %d, double closes %d", fs.OpenFiles(), fs.DoubleCloses())
	}
}

func TestTagReusableOnceAnswered(t *testing.T) {
	rc := dialRaw(t, &p9.Server{Attacher: p9test.New()}, nil)
	rc.handshake(8192)
	for range 200 {
		if r := rc.rpc(3, &p9.Tstatfs{FID: 0}); r.h.Type != p9.MsgRstatfs {
			t.Fatalf("reply %v", r.h.Type)
		}
	}
}

func TestFlush(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	h := &hooks{statfs: func() { entered <- struct{}{}; <-release }}
	rc := dialRaw(t, &p9.Server{Attacher: hookedFS{p9test.New(), h}}, nil)
	rc.handshake(8192)

	// Of nothing in flight, of itself: answered at once.
	if r := rc.rpc(5, &p9.Tflush{OldTag: 77}); r.h.Type != p9.MsgRflush {
		t.Fatalf("flush of nothing: %v", r.h.Type)
	}
	if r := rc.rpc(5, &p9.Tflush{OldTag: 5}); r.h.Type != p9.MsgRflush {
		t.Fatalf("flush of itself: %v", r.h.Type)
	}
	// Of a request in flight: its reply first, then Rflush.
	must(t, rc.send(7, &p9.Tstatfs{FID: 0}))
	<-entered
	must(t, rc.send(8, &p9.Tflush{OldTag: 7}))
	// A flush of the flush does not wait for it.
	if r := rc.rpc(9, &p9.Tflush{OldTag: 8}); r.h.Type != p9.MsgRflush {
		t.Fatalf("flush of a flush: %v", r.h.Type)
	}
	close(release)
	if r := rc.recv(); r.h.Tag != 7 || r.h.Type != p9.MsgRstatfs {
		t.Fatalf("first reply: %v tag %d, want the flushed Rstatfs", r.h.Type, r.h.Tag)
	}
	if r := rc.recv(); r.h.Tag != 8 || r.h.Type != p9.MsgRflush {
		t.Fatalf("second reply: %v tag %d, want Rflush 8", r.h.Type, r.h.Tag)
	}
}

func TestPanicBecomesEFAULT(t *testing.T) {
	var once sync.Once
	h := &hooks{statfs: func() { once.Do(func() { panic("file system bug") }) }}
	e := newClientEnv(t, &p9.Server{Attacher: hookedFS{p9test.New(), h}})
	_, err := e.root.StatFS()
	wantErrno(t, err, syscall.EFAULT)
	_, err = e.root.StatFS()
	must(t, err) // the connection lives on
}

// TestPanicsInCloseAndCommitAreContained: a File that panics while an
// xattr is committed at Tclunk, or in Close (which also runs when the
// connection ends, outside any request), costs one request at most.
func TestPanicsInCloseAndCommitAreContained(t *testing.T) {
	var panicClose atomic.Bool
	h := &hooks{
		setxattr: func() { panic("setxattr bug") },
		closed: func() {
			if panicClose.Load() {
				panic("close bug")
			}
		},
	}
	fs := p9test.New()
	conn, done := serve(t, &p9.Server{Attacher: hookedFS{fs, h}}, nil)
	client, err := p9.NewClient(conn)
	must(t, err)
	root, err := client.Attach("")
	must(t, err)
	wantErrno(t, root.SetXattr("user.x", []byte("v"), 0), syscall.EFAULT)
	_, err = root.StatFS()
	must(t, err) // no lock or fid left behind by the panic
	panicClose.Store(true)
	_, d, err := root.Walk(nil)
	must(t, err)
	must(t, d.Close()) // Close panicked in the server; the clunk still succeeded
	client.Close()
	if err := wait(t, done); err != nil {
		t.Fatalf("Serve: %v", err)
	}
	if fs.OpenFiles() != 0 {
		t.Fatalf("%d Files open", fs.OpenFiles())
	}
}

// TestModesReachTheFileExactly: modes go to the File bit for bit, setuid,
// setgid, sticky and type bits included (the server masks nothing).
func TestModesReachTheFileExactly(t *testing.T) {
	var got []p9.FileMode
	var gotValid []p9.SetAttrMask
	h := &hooks{
		create:  func(m p9.FileMode) { got = append(got, m) },
		mkdir:   func(m p9.FileMode) { got = append(got, m) },
		setattr: func(v p9.SetAttrMask, a p9.SetAttr) { got = append(got, a.Mode); gotValid = append(gotValid, v) },
	}
	rc := dialRaw(t, &p9.Server{Attacher: hookedFS{p9test.New(), h}}, nil)
	rc.handshake(8192)
	rc.rpc(2, &p9.Twalk{FID: 0, NewFID: 1})
	rc.rpc(2, &p9.Tlcreate{FID: 1, Name: "f", Flags: p9.WriteOnly, Mode: p9.ModeRegular | 0o4755})
	rc.rpc(2, &p9.Tmkdir{DirFID: 0, Name: "d", Mode: p9.ModeDirectory | 0o3775})
	rc.rpc(2, &p9.Tsetattr{FID: 1, Valid: p9.SetAttrMode | 0x10000, Attr: p9.SetAttr{Mode: p9.ModeRegular | 0o6711}})
	want := []p9.FileMode{p9.ModeRegular | 0o4755, p9.ModeDirectory | 0o3775, p9.ModeRegular | 0o6711}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("modes %o, want %o", got, want)
	}
	if len(gotValid) != 1 || gotValid[0] != p9.SetAttrMode {
		t.Fatalf("setattr mask %#x, want only the known bits", gotValid)
	}
}

func TestErrnosPassExactly(t *testing.T) {
	var next error
	h := &hooks{getxattr: func() error { return next }}
	e := newClientEnv(t, &p9.Server{Attacher: hookedFS{p9test.New(), h}})
	for _, tc := range []struct {
		err  error
		want syscall.Errno
	}{
		{syscall.ENODATA, syscall.ENODATA},
		{fmt.Errorf("getxattr: %w", syscall.EOPNOTSUPP), syscall.EOPNOTSUPP},
		{fmt.Errorf("outer: %w", fmt.Errorf("inner: %w", syscall.ERANGE)), syscall.ERANGE},
		{errors.New("no errno at all"), syscall.EIO},
		{syscall.Errno(0), syscall.EIO},
		{syscall.Errno(5000), syscall.EIO}, // beyond MAX_ERRNO
	} {
		next = tc.err
		_, err := e.root.GetXattr("user.x")
		var got syscall.Errno
		if !errors.As(err, &got) || got != tc.want {
			t.Errorf("File error %v reached the client as %v, want %v", tc.err, err, tc.want)
		}
	}
}

func TestNamesAreCheckedBeforeTheFile(t *testing.T) {
	var walks atomic.Int32
	h := &hooks{walk: func([]string) { walks.Add(1) }}
	rc := dialRaw(t, &p9.Server{Attacher: hookedFS{p9test.New(), h}}, nil)
	rc.handshake(8192)
	long := string(bytes.Repeat([]byte("n"), 256))
	for _, tc := range []struct {
		name  string
		errno syscall.Errno
	}{{"..", syscall.EINVAL}, {".", syscall.EINVAL}, {"", syscall.EINVAL}, {"a/b", syscall.EINVAL},
		{"x\x00", syscall.EINVAL}, {long, syscall.ENAMETOOLONG}} {
		for _, m := range []p9.Message{
			&p9.Twalk{FID: 0, NewFID: 1, Names: []string{"ok", tc.name}},
			&p9.Tlcreate{FID: 0, Name: tc.name, Mode: 0o644},
			&p9.Tmkdir{DirFID: 0, Name: tc.name},
			&p9.Tsymlink{DirFID: 0, Name: tc.name, Target: "/"},
			&p9.Tmknod{DirFID: 0, Name: tc.name, Mode: p9.ModeNamedPipe},
			&p9.Tlink{DirFID: 0, FID: 0, Name: tc.name},
			&p9.Trenameat{OldDirFID: 0, OldName: "a", NewDirFID: 0, NewName: tc.name},
			&p9.Trenameat{OldDirFID: 0, OldName: tc.name, NewDirFID: 0, NewName: "b"},
			&p9.Trename{FID: 0, DirFID: 0, Name: tc.name},
			&p9.Tunlinkat{DirFID: 0, Name: tc.name},
		} {
			if r := rc.rpc(2, m); r.errno() != uint32(tc.errno) {
				t.Errorf("%v with %q: reply %v errno %d, want %v", m.Type(), tc.name, r.h.Type, r.errno(), tc.errno)
			}
		}
	}
	if n := walks.Load(); n != 0 {
		t.Fatalf("File.Walk called %d times with bad names", n)
	}
	for _, aname := range []string{"..", "/../x", "a/./b", "a/../../b", "x\x00", long} {
		if r := rc.rpc(3, &p9.Tattach{FID: 9, AFID: p9.NoFID, AName: aname}); r.errno() == 0 {
			t.Errorf("attach to %q succeeded", aname)
		}
	}
	if n := walks.Load(); n != 0 {
		t.Fatalf("File.Walk called %d times for bad attach names", n)
	}
}

func TestAttachUserAndName(t *testing.T) {
	var uids []p9.UID
	h := &hooks{attached: func(u p9.UID) { uids = append(uids, u) }}
	fs := p9test.New()
	rc := dialRaw(t, &p9.Server{Attacher: hookedFS{fs, h}}, nil)
	rc.handshake(8192) // attaches with NoUID
	root, _ := fs.Attach("", p9.NoUID)
	_, err := root.Mkdir("sub", 0o755, p9.NoGID)
	must(t, err)
	root.Close()
	r := rc.rpc(2, &p9.Tattach{FID: 1, AFID: p9.NoFID, UName: "", AName: "//sub/", NUName: 1000})
	if r.h.Type != p9.MsgRattach || r.msg.(*p9.Rattach).QID.Type != p9.TypeDir {
		t.Fatalf("attach /sub: %#v", r.msg)
	}
	if r := rc.rpc(2, &p9.Tattach{FID: 1, AFID: p9.NoFID}); r.errno() != uint32(syscall.EBADF) {
		t.Fatalf("attach onto a fid in use: errno %d", r.errno())
	}
	if r := rc.rpc(2, &p9.Tattach{FID: 2, AFID: p9.NoFID, AName: "missing", NUName: 7}); r.errno() != uint32(syscall.ENOENT) {
		t.Fatalf("attach to a missing name: errno %d", r.errno())
	}
	if fmt.Sprint(uids) != fmt.Sprint([]p9.UID{p9.NoUID, 1000, 7}) {
		t.Fatalf("attached users %v", uids)
	}
}

func TestFIDLimit(t *testing.T) {
	fs := p9test.New()
	rc := dialRaw(t, &p9.Server{Attacher: fs, MaxFIDs: 10}, nil)
	rc.handshake(8192)
	var errno uint32
	n := uint32(1)
	for ; n < 20 && errno == 0; n++ {
		errno = rc.rpc(2, &p9.Twalk{FID: 0, NewFID: n}).errno()
	}
	if errno != uint32(syscall.EMFILE) || n != 11 {
		t.Fatalf("fid %d: errno %d, want EMFILE at the 11th", n-1, errno)
	}
	if fs.OpenFiles() != 10 {
		t.Fatalf("%d Files open for 10 fids", fs.OpenFiles())
	}
	rc.rpc(3, &p9.Tclunk{FID: 1})
	if r := rc.rpc(2, &p9.Twalk{FID: 0, NewFID: 1}); r.h.Type != p9.MsgRwalk {
		t.Fatalf("after a clunk: errno %d", r.errno())
	}
	// Walking to a fid in use opens nothing.
	if r := rc.rpc(2, &p9.Twalk{FID: 0, NewFID: 2}); r.errno() != uint32(syscall.EBADF) {
		t.Fatalf("walk to a fid in use: errno %d", r.errno())
	}
	if fs.OpenFiles() != 10 {
		t.Fatalf("%d Files open", fs.OpenFiles())
	}
}

func TestXattrBounds(t *testing.T) {
	fs := p9test.New()
	rc := dialRaw(t, &p9.Server{Attacher: fs, MaxXattrBytes: 4 * p9.MaxXattrSize}, nil)
	rc.handshake(8192)
	create := func(fid uint32, size uint64) uint32 {
		return rc.rpc(2, &p9.Txattrcreate{FID: fid, Name: "user.x", Size: size}).errno()
	}
	if e := create(0, 1<<40); e != uint32(syscall.E2BIG) {
		t.Fatalf("1 TiB: errno %d", e)
	}
	for i := uint32(1); i <= 4; i++ {
		rc.rpc(3, &p9.Twalk{FID: 0, NewFID: i})
		if e := create(i, p9.MaxXattrSize); e != 0 {
			t.Fatalf("value %d within the budget: errno %d", i, e)
		}
	}
	rc.rpc(3, &p9.Twalk{FID: 0, NewFID: 5})
	if e := create(5, 1); e != uint32(syscall.ENOMEM) {
		t.Fatalf("beyond the budget: errno %d", e)
	}
	// A clunk with less written than announced fails, and frees the budget.
	if r := rc.rpc(4, &p9.Tclunk{FID: 1}); r.errno() != uint32(syscall.EINVAL) {
		t.Fatalf("clunk of a short value: errno %d", r.errno())
	}
	if e := create(5, 3); e != 0 {
		t.Fatalf("after a clunk: errno %d", e)
	}
	// Writes must come in order and within the size.
	if r := rc.rpc(5, &p9.Twrite{FID: 5, Offset: 1, Data: []byte("x")}); r.errno() != uint32(syscall.EINVAL) {
		t.Fatalf("write at offset 1 first: errno %d", r.errno())
	}
	if r := rc.rpc(5, &p9.Twrite{FID: 5, Data: []byte("abcd")}); r.errno() != uint32(syscall.EINVAL) {
		t.Fatalf("write past the size: errno %d", r.errno())
	}
	rc.rpc(5, &p9.Twrite{FID: 5, Data: []byte("ab")})
	rc.rpc(5, &p9.Twrite{FID: 5, Offset: 2, Data: []byte("c")})
	if r := rc.rpc(6, &p9.Tclunk{FID: 5}); r.h.Type != p9.MsgRclunk {
		t.Fatalf("commit: errno %d", r.errno())
	}
	// Names: empty (for create) and too long are ERANGE.
	rc.rpc(3, &p9.Twalk{FID: 0, NewFID: 6})
	if r := rc.rpc(2, &p9.Txattrcreate{FID: 6, Name: ""}); r.errno() != uint32(syscall.ERANGE) {
		t.Fatalf("empty name: errno %d", r.errno())
	}
	if r := rc.rpc(2, &p9.Txattrwalk{FID: 0, NewFID: 7, Name: string(bytes.Repeat([]byte("u"), 300))}); r.errno() != uint32(syscall.ERANGE) {
		t.Fatalf("long name: errno %d", r.errno())
	}
	// Reading the value back through a walk fid, in pieces.
	r := rc.rpc(2, &p9.Txattrwalk{FID: 0, NewFID: 7, Name: "user.x"})
	if x, ok := r.msg.(*p9.Rxattrwalk); !ok || x.Size != 3 {
		t.Fatalf("xattrwalk: %#v", r.msg)
	}
	var got []byte
	for off := uint64(0); ; off += 2 {
		rr := rc.rpc(2, &p9.Tread{FID: 7, Offset: off, Count: 2}).msg.(*p9.Rread)
		if len(rr.Data) == 0 {
			break
		}
		got = append(got, rr.Data...)
	}
	if string(got) != "abc" {
		t.Fatalf("value %q", got)
	}
	if r := rc.rpc(2, &p9.Twrite{FID: 7, Data: []byte("x")}); r.errno() != uint32(syscall.EBADF) {
		t.Fatalf("write to a read xattr fid: errno %d", r.errno())
	}
}

func TestInflightBound(t *testing.T) {
	const limit = 3
	var inside, most atomic.Int32
	release := make(chan struct{})
	h := &hooks{statfs: func() {
		n := inside.Add(1)
		for {
			m := most.Load()
			if n <= m || most.CompareAndSwap(m, n) {
				break
			}
		}
		<-release
		inside.Add(-1)
	}}
	rc := dialRaw(t, &p9.Server{Attacher: hookedFS{p9test.New(), h}, MaxInflight: limit}, nil)
	rc.handshake(8192)
	var sent atomic.Int32
	go func() {
		for i := range 10 {
			if rc.send(uint16(10+i), &p9.Tstatfs{FID: 0}) != nil {
				return
			}
			sent.Add(1)
		}
	}()
	for inside.Load() < limit {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond) // would let a fourth in, if allowed
	// net.Pipe is unbuffered: a message the server does not read is not
	// sent.
	if s := sent.Load(); s > limit {
		t.Fatalf("%d requests taken with %d in flight", s, limit)
	}
	close(release)
	for range 10 {
		if r := rc.recv(); r.h.Type != p9.MsgRstatfs {
			t.Fatalf("reply %v", r.h.Type)
		}
	}
	if m := most.Load(); m != limit {
		t.Fatalf("at most %d requests at once, want %d", m, limit)
	}
}

func TestRequestHooks(t *testing.T) {
	var mu sync.Mutex
	active, begun := 0, 0
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	h := &hooks{statfs: func() { entered <- struct{}{}; <-release }}
	srv := &p9.Server{
		Attacher:     hookedFS{p9test.New(), h},
		BeginRequest: func() { mu.Lock(); active++; begun++; mu.Unlock() },
		EndRequest:   func() { mu.Lock(); active--; mu.Unlock() },
	}
	rc := dialRaw(t, srv, nil)
	rc.handshake(8192)
	// End runs just after the reply is written: wait for it.
	settle := func(want int) (int, int) {
		for range 1000 {
			mu.Lock()
			a, b := active, begun
			mu.Unlock()
			if a == want {
				return a, b
			}
			time.Sleep(time.Millisecond)
		}
		mu.Lock()
		defer mu.Unlock()
		return active, begun
	}
	must(t, rc.send(2, &p9.Tstatfs{FID: 0}))
	<-entered
	if a, _ := settle(1); a != 1 {
		t.Errorf("%d requests active during a statfs", a)
	}
	close(release)
	rc.recv()
	rc.rpc(3, &p9.Tclunk{FID: 0})
	if a, b := settle(0); a != 0 || b != 4 { // Tversion, Tattach, Tstatfs, Tclunk
		t.Fatalf("active %d, begun %d", a, b)
	}
}

func TestVersionStartsANewSession(t *testing.T) {
	fs := p9test.New()
	rc := dialRaw(t, &p9.Server{Attacher: fs}, nil)
	rc.handshake(8192)
	rc.rpc(2, &p9.Twalk{FID: 0, NewFID: 1})
	rc.rpc(2, &p9.Txattrwalk{FID: 0, NewFID: 2})
	if fs.OpenFiles() != 2 {
		t.Fatalf("%d open", fs.OpenFiles())
	}
	rc.handshake(8192)
	if r := rc.rpc(3, &p9.Tgetattr{FID: 1}); r.errno() != uint32(syscall.EBADF) {
		t.Fatalf("old fid after Tversion: errno %d", r.errno())
	}
	if fs.OpenFiles() != 1 { // the new attach
		t.Fatalf("%d Files open after Tversion", fs.OpenFiles())
	}
}

// TestCloseWaitsForRequests: a File is closed only after every request
// using it has returned, even when its fid is clunked meanwhile.
func TestCloseWaitsForRequests(t *testing.T) {
	var reading atomic.Bool
	var closedDuringRead atomic.Bool
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	h := &hooks{
		read: func() {
			reading.Store(true)
			entered <- struct{}{}
			<-release
			reading.Store(false)
		},
		closed: func() {
			if reading.Load() {
				closedDuringRead.Store(true)
			}
		},
	}
	e := newClientEnv(t, &p9.Server{Attacher: hookedFS{p9test.New(), h}})
	_, d, _ := e.root.Walk(nil)
	f, _, _, err := d.Create("f", p9.ReadWrite, 0o644, p9.NoGID)
	must(t, err)
	go f.ReadAt(make([]byte, 10), 0)
	<-entered
	clunked := make(chan error, 1)
	go func() { clunked <- f.Close() }()
	time.Sleep(50 * time.Millisecond)
	close(release)
	must(t, <-clunked)
	if closedDuringRead.Load() {
		t.Fatal("File closed while a read on it was running")
	}
}

// TestConnectionEndWithRequestsInFlight: the client goes away while a
// request is being handled; Serve waits for it and closes every File.
func TestConnectionEndWithRequestsInFlight(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	h := &hooks{statfs: func() { entered <- struct{}{}; <-release }}
	fs := p9test.New()
	rc := dialRaw(t, &p9.Server{Attacher: hookedFS{fs, h}}, nil)
	rc.handshake(8192)
	rc.rpc(2, &p9.Twalk{FID: 0, NewFID: 1, Names: nil})
	must(t, rc.send(3, &p9.Tstatfs{FID: 1}))
	<-entered
	rc.c.Close()
	select {
	case err := <-rc.served:
		t.Fatalf("Serve returned (%v) with a request in flight", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	if err := wait(t, rc.served); err != nil {
		t.Fatalf("Serve: %v", err)
	}
	if fs.OpenFiles() != 0 || fs.DoubleCloses() != 0 {
		t.Fatalf("open %d, double closes %d", fs.OpenFiles(), fs.DoubleCloses())
	}
}

// vecConn records WriteVectors calls and checks each is one whole
// message.
type vecConn struct {
	net.Conn
	calls atomic.Int32
	bad   atomic.Int32
}

func (c *vecConn) WriteVectors(bufs [][]byte) error {
	c.calls.Add(1)
	all := bytes.Join(bufs, nil)
	if len(all) < 7 || int(binary.LittleEndian.Uint32(all)) != len(all) {
		c.bad.Add(1)
	}
	_, err := c.Conn.Write(all)
	return err
}

func (c *vecConn) Write([]byte) (int, error) {
	c.bad.Add(1)
	return 0, errors.New("Write called on a vector connection")
}

func TestVectorWriter(t *testing.T) {
	var vc *vecConn
	rc := dialRaw(t, &p9.Server{Attacher: p9test.New()}, func(c net.Conn) io.ReadWriteCloser {
		vc = &vecConn{Conn: c}
		return vc
	})
	rc.handshake(8192)
	rc.rpc(2, &p9.Tlcreate{FID: 0, Name: "f", Flags: p9.ReadWrite, Mode: 0o644})
	rc.rpc(2, &p9.Twrite{FID: 0, Data: []byte("0123456789")})
	if r := rc.rpc(2, &p9.Tread{FID: 0, Count: 100}); string(r.msg.(*p9.Rread).Data) != "0123456789" {
		t.Fatalf("read %#v", r.msg)
	}
	if vc.calls.Load() != 5 || vc.bad.Load() != 0 {
		t.Fatalf("%d WriteVectors calls for 5 replies, %d not whole", vc.calls.Load(), vc.bad.Load())
	}
}

func TestReadCountClampedToMsize(t *testing.T) {
	fs := p9test.New()
	root, _ := fs.Attach("", p9.NoUID)
	f, _, _, _ := root.Create("big", p9.ReadWrite, 0o644, p9.NoGID)
	f.WriteAt(make([]byte, 64<<10), 0)
	f.Close()
	rc := dialRaw(t, &p9.Server{Attacher: fs}, nil)
	rc.handshake(8192)
	rc.rpc(2, &p9.Twalk{FID: 0, NewFID: 1, Names: []string{"big"}})
	rc.rpc(2, &p9.Tlopen{FID: 1, Flags: p9.ReadOnly})
	r := rc.rpc(2, &p9.Tread{FID: 1, Count: 1 << 31})
	if r.h.Type != p9.MsgRread || r.h.Size > 8192 || r.h.Size != 8192 {
		t.Fatalf("Rread of %d bytes for msize 8192", r.h.Size)
	}
	r = rc.rpc(2, &p9.Tread{FID: 1, Offset: 1 << 63, Count: 10})
	if r.errno() != uint32(syscall.EINVAL) {
		t.Fatalf("read at 2^63: errno %d", r.errno())
	}
	rc.rpc(2, &p9.Twalk{FID: 0, NewFID: 2})
	rc.rpc(2, &p9.Tlopen{FID: 2, Flags: p9.ReadOnly})
	r = rc.rpc(2, &p9.Treaddir{FID: 2, Count: 1 << 30})
	if r.h.Type != p9.MsgRreaddir || r.h.Size > 8192 {
		t.Fatalf("Rreaddir of %d bytes", r.h.Size)
	}
}

func TestServeEndsWithContextAndNeedsAnAttacher(t *testing.T) {
	if err := (&p9.Server{}).Serve(t.Context(), nil); err == nil {
		t.Fatal("Serve without an Attacher")
	}
	fs := p9test.New()
	s, c := net.Pipe()
	defer c.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- (&p9.Server{Attacher: fs}).Serve(ctx, s) }()
	client, err := p9.NewClient(c)
	must(t, err)
	root, err := client.Attach("")
	must(t, err)
	cancel()
	if err := wait(t, done); err != nil {
		t.Fatalf("Serve after cancel: %v", err)
	}
	_, _, _, err = root.GetAttr(p9.AttrBasic)
	if err == nil {
		t.Fatal("request after the server ended")
	}
	client.Close()
	if fs.OpenFiles() != 0 {
		t.Fatal("files left open")
	}
}
