package xenstoretest

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// raw is a hand-driven protocol client, so the fake is tested against the
// wire format itself rather than through package xenstore.
type raw struct {
	t    *testing.T
	conn net.Conn
	req  uint32
}

type msg struct {
	typ          msgType
	req, tx, len uint32
	payload      string
}

func newRaw(t *testing.T, s *Server, domid uint32) *raw {
	c := s.ConnAs(domid)
	t.Cleanup(func() { c.Close() })
	return &raw{t: t, conn: c}
}

func (r *raw) send(typ msgType, tx uint32, payload string) uint32 {
	r.t.Helper()
	r.req++
	b := binary.LittleEndian.AppendUint32(nil, uint32(typ))
	b = binary.LittleEndian.AppendUint32(b, r.req)
	b = binary.LittleEndian.AppendUint32(b, tx)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(payload)))
	r.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if _, err := r.conn.Write(append(b, payload...)); err != nil {
		r.t.Fatalf("send: %v", err)
	}
	return r.req
}

func (r *raw) recv() msg {
	r.t.Helper()
	r.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	var h [16]byte
	if _, err := io.ReadFull(r.conn, h[:]); err != nil {
		r.t.Fatalf("recv: %v", err)
	}
	m := msg{
		typ: msgType(binary.LittleEndian.Uint32(h[0:])),
		req: binary.LittleEndian.Uint32(h[4:]),
		tx:  binary.LittleEndian.Uint32(h[8:]),
		len: binary.LittleEndian.Uint32(h[12:]),
	}
	if m.len > payloadMax {
		r.t.Fatalf("server sent %d payload bytes", m.len)
	}
	p := make([]byte, m.len)
	if _, err := io.ReadFull(r.conn, p); err != nil {
		r.t.Fatalf("recv: %v", err)
	}
	m.payload = string(p)
	return m
}

// do sends a request and returns its reply, checking req_id and tx_id are
// echoed.
func (r *raw) do(typ msgType, tx uint32, payload string) msg {
	r.t.Helper()
	id := r.send(typ, tx, payload)
	m := r.recv()
	if m.req != id || m.tx != tx {
		r.t.Fatalf("reply req %d tx %d to req %d tx %d", m.req, m.tx, id, tx)
	}
	if m.typ != typ && m.typ != xsError {
		r.t.Fatalf("reply type %d to %d", m.typ, typ)
	}
	return m
}

// expect checks a reply: an errno name for errors, else the payload.
func (r *raw) expect(typ msgType, tx uint32, payload, want string) msg {
	r.t.Helper()
	m := r.do(typ, tx, payload)
	got := m.payload
	if m.typ == xsError {
		got = "ERR " + strings.TrimSuffix(got, "\x00")
	}
	if got != want {
		r.t.Fatalf("%d %q: got %q, want %q", typ, payload, got, want)
	}
	return m
}

func newTestServer(t *testing.T, opts ...Option) *Server {
	s := New(opts...)
	t.Cleanup(func() { s.Close() })
	return s
}

func TestRequests(t *testing.T) {
	s := newTestServer(t)
	r := newRaw(t, s, 0)
	tests := []struct {
		typ     msgType
		tx      uint32
		payload string
		want    string
	}{
		{xsRead, 0, "/local\x00", ""},
		{xsDirectory, 0, "/\x00", "local\x00"},
		{xsDirectory, 0, "/local/domain\x00", "0\x00"},
		{xsGetPerms, 0, "/\x00", "n0\x00"},
		{xsWrite, 0, "/a/b\x00v\x00al", "OK\x00"},
		{xsRead, 0, "/a/b\x00", "v\x00al"},
		{xsRead, 0, "/a\x00", ""},
		{xsMkdir, 0, "/a/b/c\x00", "OK\x00"},
		{xsRead, 0, "/a/b\x00", "v\x00al"},
		{xsDirectory, 0, "/a/b\x00", "c\x00"},
		{xsDirectory, 0, "/a/b/c\x00", ""},
		{xsSetPerms, 0, "/a\x00b3\x00r0\x00", "OK\x00"},
		{xsGetPerms, 0, "/a\x00", "b3\x00r0\x00"},
		{xsGetPerms, 0, "/a/new\x00", "ERR ENOENT"},
		{xsRm, 0, "/a/b\x00", "OK\x00"},
		{xsRead, 0, "/a/b/c\x00", "ERR ENOENT"},
		{xsRm, 0, "/a/b\x00", "OK\x00"},
		{xsRm, 0, "/a/b/c\x00", "ERR ENOENT"},
		{xsRm, 0, "/\x00", "ERR EINVAL"},
		{xsGetDomainPath, 0, "12\x00", "/local/domain/12\x00"},
		{xsIsDomainIntroduced, 0, "0\x00", "T\x00"},
		{xsIsDomainIntroduced, 0, "12\x00", "F\x00"},
		{xsIntroduce, 0, "12\x00999\x005\x00", "OK\x00"},
		{xsIsDomainIntroduced, 0, "12\x00", "T\x00"},
		{xsResume, 0, "12\x00", "OK\x00"},
		{xsRelease, 0, "12\x00", "OK\x00"},
		{xsRelease, 0, "12\x00", "ERR ENOENT"},
		{xsSetTarget, 0, "7\x006\x00", "OK\x00"},
		{xsResetWatches, 0, "\x00", "OK\x00"},

		// Malformed requests.
		{xsRead, 0, "/a", "ERR EINVAL"},
		{xsRead, 0, "", "ERR EINVAL"},
		{xsRead, 0, "/a\x00/b\x00", "ERR EINVAL"},
		{xsRead, 0, "/a//b\x00", "ERR EINVAL"},
		{xsRead, 0, "/a/\x00", "ERR EINVAL"},
		{xsRead, 0, "/a.b\x00", "ERR EINVAL"},
		{xsRead, 0, "@releaseDomain\x00", "ERR EINVAL"},
		{xsRead, 0, "/" + strings.Repeat("x", absPathMax) + "\x00", "ERR EINVAL"},
		{xsWrite, 0, "/a", "ERR EINVAL"},
		{xsSetPerms, 0, "/a\x00", "ERR EINVAL"},
		{xsSetPerms, 0, "/a\x00x0\x00", "ERR EINVAL"},
		{xsSetPerms, 0, "/a\x00r\x00", "ERR EINVAL"},
		{xsGetDomainPath, 0, "abc\x00", "ERR EINVAL"},
		{xsGetDomainPath, 0, "70000\x00", "ERR EINVAL"},
		{xsIntroduce, 0, "12\x00", "ERR EINVAL"},
		{xsIntroduce, 0, "0\x001\x002\x00", "ERR EINVAL"},
		{xsWatch, 0, "/a\x00", "ERR EINVAL"},
		{xsWatch, 0, "@\x00t\x00", "ERR EINVAL"},
		{xsUnwatch, 0, "/a\x00nosuch\x00", "ERR ENOENT"},
		{xsTransactionEnd, 0, "T\x00", "ERR EINVAL"},
		{xsTransactionStart, 5, "\x00", "ERR EBUSY"},
		{xsRead, 12345, "/a\x00", "ERR ENOENT"},
		{xsControl, 0, "print\x00hi\x00", "ERR ENOSYS"},
		{xsWatchEvent, 0, "/a\x00t\x00", "ERR ENOSYS"},
		{20, 0, "", "ERR ENOSYS"},
		{99, 0, "", "ERR ENOSYS"},
	}
	for _, tt := range tests {
		r.expect(tt.typ, tt.tx, tt.payload, tt.want)
	}
}

func TestOversizedRequestKillsConnection(t *testing.T) {
	s := newTestServer(t)
	r := newRaw(t, s, 0)
	r.expect(xsRead, 0, "/local\x00", "")
	b := binary.LittleEndian.AppendUint32(nil, uint32(xsWrite))
	b = binary.LittleEndian.AppendUint32(b, 1)
	b = binary.LittleEndian.AppendUint32(b, 0)
	b = binary.LittleEndian.AppendUint32(b, payloadMax+1)
	r.conn.Write(b)
	r.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := r.conn.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("read after oversized request: %v", err)
	}
	// A maximal request is fine on a new connection.
	r = newRaw(t, s, 0)
	r.expect(xsWrite, 0, "/v\x00"+strings.Repeat("x", payloadMax-3), "OK\x00")
	r.expect(xsRead, 0, "/v\x00"+strings.Repeat("y", 0), strings.Repeat("x", payloadMax-3))
}

func TestWatchAckThenInitialEvent(t *testing.T) {
	s := newTestServer(t)
	r := newRaw(t, s, 0)
	id := r.send(xsWatch, 0, "/some/path\x00tok\x00")
	if m := r.recv(); m.typ != xsWatch || m.req != id || m.payload != "OK\x00" {
		t.Fatalf("first %+v", m)
	}
	if m := r.recv(); m.typ != xsWatchEvent || m.req != 0 || m.tx != 0 || m.payload != "/some/path\x00tok\x00" {
		t.Fatalf("second %+v", m)
	}
	r.expect(xsWatch, 0, "/some/path\x00tok\x00", "ERR EEXIST")
	// Same path, other token: a second watch.
	r.send(xsWatch, 0, "/some/path\x00tok2\x00")
	r.recv()
	r.recv()
	if n := s.NumWatches(); n != 2 {
		t.Fatalf("%d watches", n)
	}
	// One write, two events, then the reply... no: events are produced
	// while handling, before the reply.
	id = r.send(xsWrite, 0, "/some/path/x\x00")
	toks := map[string]bool{}
	for range 2 {
		m := r.recv()
		if m.typ != xsWatchEvent || !strings.HasPrefix(m.payload, "/some/path/x\x00") {
			t.Fatalf("event %+v", m)
		}
		toks[m.payload] = true
	}
	if m := r.recv(); m.req != id {
		t.Fatalf("reply %+v", m)
	}
	if len(toks) != 2 {
		t.Fatalf("events %v", toks)
	}
	r.expect(xsUnwatch, 0, "/some/path\x00tok\x00", "OK\x00")
	r.expect(xsResetWatches, 0, "", "OK\x00")
	if n := s.NumWatches(); n != 0 {
		t.Fatalf("%d watches after reset", n)
	}
}

func TestRmFiresWatchesBeneath(t *testing.T) {
	s := newTestServer(t)
	r := newRaw(t, s, 0)
	s.Write("/vm/1/device/vif/0", nil)
	r.expect(xsWatch, 0, "/vm/1/device\x00deep\x00", "OK\x00")
	r.recv()
	r.expect(xsWatch, 0, "/vm\x00top\x00", "OK\x00")
	r.recv()
	if err := s.Rm("/vm/1"); err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for range 2 {
		got[r.recv().payload] = true
	}
	if !got["/vm/1/device\x00deep\x00"] || !got["/vm/1\x00top\x00"] {
		t.Fatalf("events %v", got)
	}
}

func TestDirectoryPart(t *testing.T) {
	s := newTestServer(t)
	r := newRaw(t, s, 0)
	var names []string
	total := 0
	for i := 0; total <= 2*payloadMax; i++ {
		n := strings.Repeat("n", 40) + string(rune('a'+i%26)) + strings.Repeat("0", i/26)
		names = append(names, n)
		total += len(n) + 1
		s.Mkdir("/d/" + n)
	}
	r.expect(xsDirectory, 0, "/d\x00", "ERR E2BIG")

	var got []string
	off := 0
	gen := ""
	for {
		m := r.do(xsDirectoryPart, 0, "/d\x00"+itoa(off)+"\x00")
		if m.typ != xsDirectoryPart || m.len > payloadMax {
			t.Fatalf("reply %+v", m)
		}
		parts := strings.Split(m.payload, "\x00")
		if gen == "" {
			gen = parts[0]
		} else if parts[0] != gen {
			t.Fatalf("generation moved %s -> %s", gen, parts[0])
		}
		body := m.payload[len(parts[0])+1:]
		if strings.HasSuffix(body, "\x00\x00") || body == "\x00" {
			got = append(got, strings.Split(strings.TrimSuffix(body, "\x00\x00"), "\x00")...)
			if body == "\x00" {
				got = got[:len(got)-1]
			}
			break
		}
		got = append(got, strings.Split(strings.TrimSuffix(body, "\x00"), "\x00")...)
		off += len(body)
	}
	if strings.Join(got, ",") != strings.Join(names, ",") {
		t.Fatalf("got %d names, want %d", len(got), len(names))
	}
	// Past the end: just the end marker.
	if m := r.do(xsDirectoryPart, 0, "/d\x0099999\x00"); m.payload != gen+"\x00\x00" {
		t.Fatalf("past end %q", m.payload)
	}
	// A change moves the generation.
	s.Mkdir("/d/zzz")
	if m := r.do(xsDirectoryPart, 0, "/d\x0099999\x00"); m.payload == gen+"\x00\x00" {
		t.Fatal("generation did not change")
	}
	r.expect(xsDirectoryPart, 0, "/d\x00", "ERR EINVAL")
	r.expect(xsDirectoryPart, 0, "/d\x00x\x00", "ERR EINVAL")
	r.expect(xsDirectoryPart, 0, "/nope\x000\x00", "ERR ENOENT")
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}

func startTx(r *raw) uint32 {
	r.t.Helper()
	m := r.do(xsTransactionStart, 0, "\x00")
	if m.typ != xsTransactionStart {
		r.t.Fatalf("start: %q", m.payload)
	}
	var id uint32
	for _, c := range strings.TrimSuffix(m.payload, "\x00") {
		id = id*10 + uint32(c-'0')
	}
	return id
}

func TestTransactionConflicts(t *testing.T) {
	tests := []struct {
		name   string
		setup  []string // paths written before the transaction
		inTx   func(r *raw, tx uint32)
		other  func(s *Server)
		commit string
	}{
		{"no conflict", []string{"/a"},
			func(r *raw, tx uint32) { r.do(xsRead, tx, "/a\x00"); r.do(xsWrite, tx, "/a\x00x") },
			func(s *Server) { s.Write("/b", nil) }, "OK\x00"},
		{"read then changed", []string{"/a"},
			func(r *raw, tx uint32) { r.do(xsRead, tx, "/a\x00"); r.do(xsWrite, tx, "/c\x00x") },
			func(s *Server) { s.Write("/a", []byte("changed")) }, "ERR EAGAIN"},
		{"read missing then created", nil,
			func(r *raw, tx uint32) { r.do(xsRead, tx, "/a\x00"); r.do(xsWrite, tx, "/c\x00x") },
			func(s *Server) { s.Write("/a", nil) }, "ERR EAGAIN"},
		{"both create parent", nil,
			func(r *raw, tx uint32) { r.do(xsWrite, tx, "/p/x\x00") },
			func(s *Server) { s.Write("/p/y", nil) }, "ERR EAGAIN"},
		{"sibling under existing parent", []string{"/p"},
			func(r *raw, tx uint32) { r.do(xsWrite, tx, "/p/x\x00") },
			func(s *Server) { s.Write("/p/y", nil) }, "ERR EAGAIN"}, // parent's child list changed twice
		{"write to existing node only", []string{"/p/x"},
			func(r *raw, tx uint32) { r.do(xsWrite, tx, "/p/x\x00v") },
			func(s *Server) { s.Write("/p/y", nil) }, "OK\x00"},
		{"rm vs write beneath", []string{"/r/s/t"},
			func(r *raw, tx uint32) { r.do(xsRm, tx, "/r\x00") },
			func(s *Server) { s.Write("/r/s/t", []byte("new")) }, "ERR EAGAIN"},
		{"directory vs new child", []string{"/d/1"},
			func(r *raw, tx uint32) { r.do(xsDirectory, tx, "/d\x00"); r.do(xsWrite, tx, "/e\x00") },
			func(s *Server) { s.Mkdir("/d/2") }, "ERR EAGAIN"},
		{"perms changed", []string{"/a"},
			func(r *raw, tx uint32) { r.do(xsGetPerms, tx, "/a\x00"); r.do(xsWrite, tx, "/e\x00") },
			func(s *Server) { s.SetPermissions("/a", "b0") }, "ERR EAGAIN"},
		{"rm in main", []string{"/a"},
			func(r *raw, tx uint32) { r.do(xsRead, tx, "/a\x00"); r.do(xsWrite, tx, "/e\x00") },
			func(s *Server) { s.Rm("/a") }, "ERR EAGAIN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestServer(t)
			r := newRaw(t, s, 0)
			for _, p := range tt.setup {
				s.Write(p, nil)
			}
			before := s.Dump()
			tx := startTx(r)
			tt.inTx(r, tx)
			tt.other(s)
			afterOther := s.Dump()
			r.expect(xsTransactionEnd, tx, "T\x00", tt.commit)
			if tt.commit != "OK\x00" && s.Dump() != afterOther {
				t.Fatalf("failed commit changed the tree:\n%s", s.Dump())
			}
			if tt.commit == "OK\x00" && s.Dump() == afterOther {
				t.Fatalf("commit changed nothing (before:\n%s)", before)
			}
			if s.NumTransactions() != 0 {
				t.Fatal("transaction still open")
			}
		})
	}
}

func TestTransactionSnapshotIsolation(t *testing.T) {
	s := newTestServer(t)
	r := newRaw(t, s, 0)
	s.Write("/a", []byte("old"))
	tx := startTx(r)
	s.Write("/a", []byte("new"))
	s.Write("/b", nil)
	r.expect(xsRead, tx, "/a\x00", "old")
	r.expect(xsRead, tx, "/b\x00", "ERR ENOENT")
	r.expect(xsWrite, tx, "/c\x00tx", "OK\x00")
	r.expect(xsRead, 0, "/c\x00", "ERR ENOENT")
	r.expect(xsTransactionEnd, tx, "X\x00", "ERR EINVAL")
	r.expect(xsTransactionEnd, tx, "F\x00", "OK\x00")
	r.expect(xsTransactionEnd, tx, "F\x00", "ERR ENOENT")
	r.expect(xsRead, 0, "/c\x00", "ERR ENOENT")

	s.FailCommits(1)
	tx = startTx(r)
	r.expect(xsWrite, tx, "/c\x00tx", "OK\x00")
	r.expect(xsTransactionEnd, tx, "T\x00", "ERR EAGAIN")
	tx = startTx(r)
	r.expect(xsWrite, tx, "/c\x00tx", "OK\x00")
	r.expect(xsTransactionEnd, tx, "T\x00", "OK\x00")
	r.expect(xsRead, 0, "/c\x00", "tx")
}

func TestTransactionEventsOnCommitOnly(t *testing.T) {
	s := newTestServer(t)
	w := newRaw(t, s, 0)
	r := newRaw(t, s, 0)
	w.expect(xsWatch, 0, "/t\x00tok\x00", "OK\x00")
	w.recv()
	tx := startTx(r)
	r.expect(xsWrite, tx, "/t/a\x00", "OK\x00")
	r.expect(xsRm, tx, "/t/a\x00", "OK\x00")
	r.expect(xsWrite, tx, "/t/b\x00", "OK\x00")
	// Nothing yet: the next thing the watcher sees is the reply to this.
	w.expect(xsRead, 0, "/local\x00", "")
	r.expect(xsTransactionEnd, tx, "T\x00", "OK\x00")
	for _, want := range []string{"/t/a", "/t/a", "/t/b"} {
		if m := w.recv(); m.payload != want+"\x00tok\x00" {
			t.Fatalf("event %q, want %s", m.payload, want)
		}
	}
}

func TestTransactionQuotaAndCleanup(t *testing.T) {
	s := newTestServer(t, WithMaxTransactions(2))
	r := newRaw(t, s, 0)
	startTx(r)
	startTx(r)
	r.expect(xsTransactionStart, 0, "\x00", "ERR ENOSPC")
	r.expect(xsWatch, 0, "/x\x00t\x00", "OK\x00")
	if s.NumTransactions() != 2 || s.NumWatches() != 1 || s.NumConns() != 1 {
		t.Fatal("bookkeeping")
	}
	r.conn.Close()
	deadline := time.Now().Add(10 * time.Second)
	for s.NumConns() != 0 || s.NumTransactions() != 0 || s.NumWatches() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("connection state not dropped")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestGuestPermissions(t *testing.T) {
	s := newTestServer(t)
	dom0 := newRaw(t, s, 0)
	g := newRaw(t, s, 5)
	dom0.expect(xsMkdir, 0, "/local/domain/5\x00", "OK\x00")
	dom0.expect(xsSetPerms, 0, "/local/domain/5\x00n5\x00", "OK\x00")
	dom0.expect(xsWrite, 0, "/local/domain/5/ro\x00v", "OK\x00")
	dom0.expect(xsSetPerms, 0, "/local/domain/5/ro\x00n0\x00r5\x00", "OK\x00")
	dom0.expect(xsWrite, 0, "/local/domain/5/hidden\x00v", "OK\x00")
	dom0.expect(xsSetPerms, 0, "/local/domain/5/hidden\x00n0\x00", "OK\x00")
	dom0.expect(xsWrite, 0, "/private/x\x00v", "OK\x00")

	tests := []struct {
		typ     msgType
		payload string
		want    string
	}{
		{xsRead, "ro\x00", "v"},
		{xsRead, "/local/domain/5/ro\x00", "v"},
		{xsWrite, "ro\x00x", "ERR EACCES"},
		{xsRm, "ro\x00", "ERR EACCES"},
		{xsRead, "hidden\x00", "ERR EACCES"},
		{xsRead, "hidden/below\x00", "ERR EACCES"},
		{xsRead, "missing\x00", "ERR ENOENT"},
		{xsRead, "/private/x\x00", "ERR EACCES"},
		{xsRead, "/private/nope\x00", "ERR EACCES"},
		{xsDirectory, "/\x00", "ERR EACCES"},
		{xsWrite, "/private/y\x00", "ERR EACCES"},
		{xsMkdir, "/local/domain/5\x00", "OK\x00"},
		{xsMkdir, "ro\x00", "ERR EACCES"},
		{xsWrite, "mine/a\x00v", "OK\x00"},
		{xsGetPerms, "mine/a\x00", "n5\x00"},
		{xsSetPerms, "mine/a\x00n5\x00r0\x00", "OK\x00"},
		{xsSetPerms, "mine/a\x00n6\x00", "ERR EPERM"},
		{xsSetPerms, "ro\x00n0\x00b5\x00", "ERR EACCES"},
		{xsGetDomainPath, "5\x00", "/local/domain/5\x00"},
		{xsIntroduce, "6\x001\x001\x00", "ERR EACCES"},
		{xsRelease, "6\x00", "ERR EACCES"},
		{xsSetTarget, "5\x006\x00", "ERR EACCES"},
		{xsResume, "6\x00", "ERR EACCES"},
	}
	for _, tt := range tests {
		g.expect(tt.typ, 0, tt.payload, tt.want)
	}

	// Events only for readable nodes; relative watch, relative events.
	g.expect(xsWatch, 0, "/local/domain/5\x00abs\x00", "OK\x00")
	if m := g.recv(); m.payload != "/local/domain/5\x00abs\x00" {
		t.Fatalf("initial %q", m.payload)
	}
	dom0.expect(xsWrite, 0, "/local/domain/5/hidden\x00v2", "OK\x00")
	dom0.expect(xsWrite, 0, "/local/domain/5/ro\x00v2", "OK\x00")
	if m := g.recv(); m.payload != "/local/domain/5/ro\x00abs\x00" {
		t.Fatalf("event %q", m.payload)
	}
	g.expect(xsUnwatch, 0, "/local/domain/5\x00abs\x00", "OK\x00")
	g.expect(xsWatch, 0, "ro\x00rel\x00", "OK\x00")
	if m := g.recv(); m.payload != "ro\x00rel\x00" {
		t.Fatalf("initial %q", m.payload)
	}
	dom0.expect(xsWrite, 0, "/local/domain/5/ro\x00v3", "OK\x00")
	if m := g.recv(); m.payload != "ro\x00rel\x00" {
		t.Fatalf("relative event %q", m.payload)
	}
	g.expect(xsUnwatch, 0, "ro\x00rel\x00", "OK\x00")

	// SET_TARGET: domain 6 acts for domain 5.
	t6 := newRaw(t, s, 6)
	t6.expect(xsRead, 0, "/local/domain/5/mine/a\x00", "ERR EACCES")
	dom0.expect(xsSetTarget, 0, "6\x005\x00", "OK\x00")
	t6.expect(xsRead, 0, "/local/domain/5/mine/a\x00", "v")
	t6.expect(xsRead, 0, "/local/domain/5/ro\x00", "v3")
}

func TestSpecialWatches(t *testing.T) {
	s := newTestServer(t)
	r := newRaw(t, s, 0)
	g := newRaw(t, s, 5)
	r.expect(xsWatch, 0, "@releaseDomain\x00rel\x00", "OK\x00")
	r.recv()
	g.expect(xsWatch, 0, "@introduceDomain\x00intro\x00", "OK\x00")
	g.recv()
	r.expect(xsIntroduce, 0, "7\x001\x002\x00", "OK\x00")
	if m := g.recv(); m.payload != "@introduceDomain\x00intro\x00" {
		t.Fatalf("introduce event %q", m.payload)
	}
	r.do(xsRelease, 0, "7\x00")
	if m := r.recv(); m.payload != "@releaseDomain\x00rel\x00" {
		t.Fatalf("release event %q", m.payload)
	}
	s.ReleaseDomain(9)
	if m := r.recv(); m.payload != "@releaseDomain\x00rel\x00" {
		t.Fatalf("release event %q", m.payload)
	}
	s.IntroduceDomain(9)
	if m := g.recv(); m.payload != "@introduceDomain\x00intro\x00" {
		t.Fatalf("introduce event %q", m.payload)
	}
}

func TestWatchQuota(t *testing.T) {
	s := newTestServer(t, WithMaxWatches(1))
	r := newRaw(t, s, 0)
	r.expect(xsWatch, 0, "/a\x00t\x00", "OK\x00")
	r.recv()
	r.expect(xsWatch, 0, "/b\x00t\x00", "ERR E2BIG")
}

func TestHelpers(t *testing.T) {
	s := newTestServer(t)
	if err := s.Write("/h/a", []byte("1")); err != nil {
		t.Fatal(err)
	}
	if err := s.Mkdir("/h/b"); err != nil {
		t.Fatal(err)
	}
	if v, ok := s.Read("/h/a"); !ok || string(v) != "1" {
		t.Fatalf("read %q %v", v, ok)
	}
	if got := s.Directory("/h"); strings.Join(got, ",") != "a,b" {
		t.Fatalf("directory %v", got)
	}
	if err := s.SetPermissions("/h/a", "b5", "r0"); err != nil {
		t.Fatal(err)
	}
	if got := s.Permissions("/h/a"); strings.Join(got, ",") != "b5,r0" {
		t.Fatalf("perms %v", got)
	}
	if err := s.Rm("/h"); err != nil {
		t.Fatal(err)
	}
	if s.Exists("/h/a") || s.Exists("/h") || !s.Exists("/local/domain/0") {
		t.Fatalf("tree:\n%s", s.Dump())
	}
	var e *Error
	if err := s.Write("bad//", nil); !errors.As(err, &e) || e.Errno != "EINVAL" {
		t.Fatalf("bad path: %v", err)
	}
	if err := s.SetPermissions("/local", "q1"); !errors.As(err, &e) || e.Errno != "EINVAL" {
		t.Fatalf("bad perm: %v", err)
	}
	if err := s.Rm("/nope/x"); !errors.As(err, &e) || e.Errno != "ENOENT" {
		t.Fatalf("rm: %v", err)
	}
	if _, ok := s.Read(""); ok || s.Directory("x") != nil || s.Permissions("/nope") != nil {
		t.Fatal("invalid or missing paths")
	}
	want := "/ = \"\" [n0]\n/local = \"\" [n0]\n/local/domain = \"\" [n0]\n/local/domain/0 = \"\" [n0]\n"
	if got := s.Dump(); got != want {
		t.Fatalf("dump:\n%s", got)
	}
}

func TestStalled(t *testing.T) {
	s := newTestServer(t)
	r := newRaw(t, s, 0)
	s.SetStalled(true)
	id := r.send(xsRead, 0, "/local\x00")
	r.conn.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if _, err := r.conn.Read(make([]byte, 1)); !errors.Is(err, net.ErrClosed) && !isTimeout(err) {
		t.Fatalf("stalled server answered: %v", err)
	}
	s.SetStalled(false)
	if m := r.recv(); m.req != id {
		t.Fatalf("reply %+v", m)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func TestServeAndClose(t *testing.T) {
	s := New()
	l, err := net.Listen("unix", t.TempDir()+"/sock")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(l) }()
	c, err := net.Dial("unix", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := &raw{t: t, conn: c}
	r.expect(xsRead, 0, "/local\x00", "")
	s.SetStalled(true)
	r.send(xsRead, 0, "/local\x00") // stuck in the stall
	s.Close()
	if err := <-served; err == nil {
		t.Fatal("Serve returned nil")
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil || isTimeout(err) {
		t.Fatalf("conn after Close: %v", err) // EOF or ECONNRESET
	}
	// Closed servers refuse work.
	cc := s.Conn()
	cc.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := cc.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("conn from closed server: %v", err)
	}
}
