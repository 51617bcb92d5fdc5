package p9_test

import (
	"os"

	"context"
	"errors"
	"github.com/containerd/log"
	"io"
	"net"
	"testing"
	"time"

	"github.com/runxen/runxen/runtime/p9"
	"github.com/runxen/runxen/runtime/p9/p9test"
)

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantErrno(t testing.TB, err error, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("err = %v, want %v", err, want)
	}
}

// serve runs srv over a pipe; wrap, if set, wraps the server's end. It
// returns the client's end and Serve's result.
func serve(t testing.TB, srv *p9.Server, wrap func(net.Conn) io.ReadWriteCloser) (net.Conn, <-chan error) {
	t.Helper()
	s, c := net.Pipe()
	var conn io.ReadWriteCloser = s
	if wrap != nil {
		conn = wrap(s)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(context.Background(), conn) }()
	t.Cleanup(func() { c.Close() })
	return c, done
}

// wait returns Serve's result, failing the test if it takes a minute (a
// stuck server, not a slow one).
func wait(t testing.TB, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(time.Minute):
		t.Fatal("Serve did not return")
		return nil
	}
}

// clientEnv is an in-memory file system served to a Client.
type clientEnv struct {
	fs     *p9test.FS
	client *p9.Client
	root   p9.File
	served <-chan error
}

func newClientEnv(t testing.TB, srv *p9.Server) *clientEnv {
	t.Helper()
	fs := p9test.New()
	if srv == nil {
		srv = &p9.Server{}
	}
	if srv.Attacher == nil {
		srv.Attacher = fs
	}
	conn, done := serve(t, srv, nil)
	client, err := p9.NewClient(conn, p9.WithMessageSize(64<<10))
	must(t, err)
	root, err := client.Attach("")
	must(t, err)
	e := &clientEnv{fs: fs, client: client, root: root, served: done}
	t.Cleanup(func() { e.stop(t) })
	return e
}

// stop ends the connection and checks the server closed every File once.
func (e *clientEnv) stop(t testing.TB) {
	t.Helper()
	if e.client == nil {
		return
	}
	e.client.Close()
	e.client = nil
	if err := wait(t, e.served); err != nil {
		t.Errorf("Serve: %v", err)
	}
	if n := e.fs.OpenFiles(); n != 0 {
		t.Errorf("%d Files left open after the connection ended", n)
	}
	if n := e.fs.DoubleCloses(); n != 0 {
		t.Errorf("%d Files closed twice", n)
	}
}

// rawConn talks 9P byte by byte, as a hostile guest would.
type rawConn struct {
	t       testing.TB
	c       net.Conn
	served  <-chan error
	replies chan rawReply
}

type rawReply struct {
	h   p9.Header
	msg p9.Message
	err error
}

func dialRaw(t testing.TB, srv *p9.Server, wrap func(net.Conn) io.ReadWriteCloser) *rawConn {
	t.Helper()
	c, done := serve(t, srv, wrap)
	rc := &rawConn{t: t, c: c, served: done, replies: make(chan rawReply, 64)}
	go rc.readLoop()
	return rc
}

func (rc *rawConn) readLoop() {
	defer close(rc.replies)
	for {
		hb := make([]byte, 7)
		if _, err := io.ReadFull(rc.c, hb); err != nil {
			return
		}
		h, err := p9.ParseHeader(hb)
		if err != nil {
			rc.replies <- rawReply{err: err}
			return
		}
		body := make([]byte, h.Size-7)
		if _, err := io.ReadFull(rc.c, body); err != nil {
			return
		}
		m, err := p9.DecodeMessage(h.Type, body)
		rc.replies <- rawReply{h: h, msg: m, err: err}
	}
}

func (rc *rawConn) sendBytes(b []byte) error {
	_, err := rc.c.Write(b)
	return err
}

func (rc *rawConn) send(tag uint16, m p9.Message) error {
	b, err := p9.AppendMessage(nil, tag, m)
	must(rc.t, err)
	return rc.sendBytes(b)
}

// recv returns the next reply; the connection must still be open.
func (rc *rawConn) recv() rawReply {
	rc.t.Helper()
	select {
	case r, ok := <-rc.replies:
		if !ok {
			rc.t.Fatal("connection closed, want a reply")
		}
		if r.err != nil {
			rc.t.Fatalf("undecodable reply: %v", r.err)
		}
		return r
	case <-time.After(time.Minute):
		rc.t.Fatal("no reply")
		return rawReply{}
	}
}

func (rc *rawConn) rpc(tag uint16, m p9.Message) rawReply {
	rc.t.Helper()
	must(rc.t, rc.send(tag, m))
	r := rc.recv()
	if r.h.Tag != tag {
		rc.t.Fatalf("reply tag %d, want %d", r.h.Tag, tag)
	}
	return r
}

// errno returns the errno of an Rlerror reply, or 0.
func (r rawReply) errno() uint32 {
	if e, ok := r.msg.(*p9.Rlerror); ok {
		return e.Errno
	}
	return 0
}

func (rc *rawConn) handshake(msize uint32) {
	rc.t.Helper()
	r := rc.rpc(p9.NoTag, &p9.Tversion{MSize: msize, Version: p9.Version})
	if v, ok := r.msg.(*p9.Rversion); !ok || v.Version != p9.Version {
		rc.t.Fatalf("Tversion: %#v", r.msg)
	}
	if r := rc.rpc(1, &p9.Tattach{FID: 0, AFID: p9.NoFID, NUName: p9.NoUID}); r.h.Type != p9.MsgRattach {
		rc.t.Fatalf("Tattach: %#v", r.msg)
	}
}

// closedByServer waits for the server to end the connection and returns
// what Serve returned.
func (rc *rawConn) closedByServer() error {
	rc.t.Helper()
	deadline := time.After(time.Minute)
	for {
		select {
		case _, ok := <-rc.replies:
			if !ok {
				return wait(rc.t, rc.served)
			}
		case <-deadline:
			rc.t.Fatal("the server did not close the connection")
		}
	}
}

// hookedFS wraps an in-memory file system's Files with test hooks.
type hookedFS struct {
	fs *p9test.FS
	h  *hooks
}

type hooks struct {
	read     func()                 // before ReadAt
	getattr  func()                 // before GetAttr
	statfs   func()                 // before StatFS
	walk     func(names []string)   // before Walk
	create   func(mode p9.FileMode) // before Create, with the mode sent
	setattr  func(p9.SetAttrMask, p9.SetAttr)
	closed   func()            // after Close
	attached func(p9.UID)      // on Attach
	getxattr func() error      // replaces GetXattr's error if it returns one
	mkdir    func(p9.FileMode) // before Mkdir
	setxattr func()            // before SetXattr
}

func (a hookedFS) Attach(uname string, uid p9.UID) (p9.File, error) {
	if a.h.attached != nil {
		a.h.attached(uid)
	}
	f, err := a.fs.Attach(uname, uid)
	if err != nil {
		return nil, err
	}
	return &hookFile{File: f, h: a.h}, nil
}

type hookFile struct {
	p9.File
	h *hooks
}

func unhook(f p9.File) p9.File {
	if h, ok := f.(*hookFile); ok {
		return h.File
	}
	return f
}

func (f *hookFile) Walk(names []string) ([]p9.QID, p9.File, error) {
	if f.h.walk != nil {
		f.h.walk(names)
	}
	q, nf, err := f.File.Walk(names)
	if nf != nil {
		nf = &hookFile{File: nf, h: f.h}
	}
	return q, nf, err
}

func (f *hookFile) Create(name string, flags p9.OpenFlags, mode p9.FileMode, gid p9.GID) (p9.File, p9.QID, uint32, error) {
	if f.h.create != nil {
		f.h.create(mode)
	}
	nf, q, iou, err := f.File.Create(name, flags, mode, gid)
	if nf != nil {
		nf = &hookFile{File: nf, h: f.h}
	}
	return nf, q, iou, err
}

func (f *hookFile) Mkdir(name string, mode p9.FileMode, gid p9.GID) (p9.QID, error) {
	if f.h.mkdir != nil {
		f.h.mkdir(mode)
	}
	return f.File.Mkdir(name, mode, gid)
}

func (f *hookFile) ReadAt(p []byte, off int64) (int, error) {
	if f.h.read != nil {
		f.h.read()
	}
	return f.File.ReadAt(p, off)
}

func (f *hookFile) GetAttr(m p9.AttrMask) (p9.QID, p9.AttrMask, p9.Attr, error) {
	if f.h.getattr != nil {
		f.h.getattr()
	}
	return f.File.GetAttr(m)
}

func (f *hookFile) StatFS() (p9.FSStat, error) {
	if f.h.statfs != nil {
		f.h.statfs()
	}
	return f.File.StatFS()
}

func (f *hookFile) SetAttr(valid p9.SetAttrMask, attr p9.SetAttr) error {
	if f.h.setattr != nil {
		f.h.setattr(valid, attr)
	}
	return f.File.SetAttr(valid, attr)
}

func (f *hookFile) GetXattr(name string) ([]byte, error) {
	if f.h.getxattr != nil {
		if err := f.h.getxattr(); err != nil {
			return nil, err
		}
	}
	return f.File.GetXattr(name)
}

func (f *hookFile) SetXattr(name string, value []byte, flags p9.XattrFlags) error {
	if f.h.setxattr != nil {
		f.h.setxattr()
	}
	return f.File.SetXattr(name, value, flags)
}

func (f *hookFile) Link(target p9.File, name string) error {
	return f.File.Link(unhook(target), name)
}

func (f *hookFile) RenameAt(oldName string, newDir p9.File, newName string) error {
	return f.File.RenameAt(oldName, unhook(newDir), newName)
}

func (f *hookFile) Close() error {
	err := f.File.Close()
	if f.h.closed != nil {
		f.h.closed()
	}
	return err
}

func TestMain(m *testing.M) {
	// Protocol violations are logged as warnings by design; keep test
	// output for failures.
	log.SetLevel("fatal")
	os.Exit(m.Run())
}
