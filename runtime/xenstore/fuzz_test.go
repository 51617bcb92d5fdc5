package xenstore

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// FuzzReadMessage feeds arbitrary bytes to the framing layer: it must never
// panic or allocate beyond the payload limit, and every message it accepts
// must re-encode to exactly the bytes it consumed.
func FuzzReadMessage(f *testing.F) {
	f.Add([]byte{})
	f.Add(append(hdr(typeRead, 1, 0, 3), "abc"...))
	f.Add(append(hdr(typeWatchEvent, 0, 0, 8), "/a\x00tok\x00\x00"...))
	f.Add(hdr(typeError, 1, 0, PayloadMax+1))
	f.Add(hdr(typeInvalid, 0, 0, 0))
	f.Add(append(append(hdr(typeRead, 1, 0, 1), 'x'), hdr(typeRead, 2, 0, 0)...))
	f.Fuzz(func(t *testing.T, in []byte) {
		r := bytes.NewReader(in)
		var re []byte
		for {
			m, err := readMessage(r)
			if err != nil {
				if err == io.EOF && r.Len() != 0 {
					t.Fatalf("io.EOF with %d bytes unread", r.Len())
				}
				break
			}
			if m.Len > PayloadMax || int(m.Len) != len(m.Payload) || m.Type >= typeInvalid {
				t.Fatalf("accepted bad message %+v", m.header)
			}
			re = appendMessage(re, m.Type, m.ReqID, m.TxID, m.Payload)
		}
		if !bytes.HasPrefix(in, re) {
			t.Fatalf("re-encoding differs from input")
		}
	})
}

// FuzzParseReplies runs every payload parser on arbitrary bytes and checks
// their results are self-consistent.
func FuzzParseReplies(f *testing.F) {
	for _, s := range []string{"", "\x00", "OK\x00", "ENOENT\x00", "EINVAL: why\x00", "a\x00b\x00",
		"12\x00", "n0\x00r5\x00", "7\x00a\x00bb\x00\x00", "/a\x00tok\x00", "\xff\xfe"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		if strs, err := parseStrings(p); err == nil {
			if len(strs) > 0 && !bytes.Equal([]byte(strings.Join(strs, "\x00")+"\x00"), p) {
				t.Fatalf("parseStrings(%q) = %q does not round-trip", p, strs)
			}
		}
		if s, err := parseString(p); err == nil && strings.IndexByte(s, 0) >= 0 {
			t.Fatalf("parseString(%q) kept a NUL", p)
		}
		if e, err := parseErrorReply("op", "/p", p); err == nil {
			if len(e.Errno) < 2 || e.Errno[0] != 'E' || len(e.Errno) > maxErrnoName || len(e.Detail) > maxErrorDetail {
				t.Fatalf("parseErrorReply(%q) = %+v", p, e)
			}
			_ = e.Error()
		} else if !errors.Is(err, ErrProtocol) {
			t.Fatalf("parseErrorReply error %v is not ErrProtocol", err)
		}
		if path, tok, err := parseWatchEvent(p); err == nil {
			if path == "" || strings.IndexByte(path, 0) >= 0 || strings.IndexByte(tok, 0) >= 0 {
				t.Fatalf("parseWatchEvent(%q) = %q %q", p, path, tok)
			}
		}
		if perms, err := parsePermissions(p); err == nil {
			if len(perms) == 0 {
				t.Fatal("empty permissions accepted")
			}
			for _, pm := range perms {
				if q, err := ParsePermission(pm.String()); err != nil || q != pm {
					t.Fatalf("permission %v does not round-trip", pm)
				}
			}
		}
		if d, err := parseDirectoryPart(p); err == nil {
			if d.gen == "" || d.consumed > len(p) {
				t.Fatalf("parseDirectoryPart(%q) = %+v", p, d)
			}
			for _, n := range d.names {
				if n == "" {
					t.Fatalf("parseDirectoryPart(%q) returned an empty name", p)
				}
			}
		}
		if v, err := parseUint32(p); err == nil {
			s, _ := parseString(p)
			if len(s) == 0 || len(s) > 10 || v > 0 && s[0] == '-' {
				t.Fatalf("parseUint32(%q) = %d", p, v)
			}
		}
	})
}

// FuzzCheckPath checks the path validator against the rules it enforces.
func FuzzCheckPath(f *testing.F) {
	for _, s := range []string{"/", "/a/b", "a/b", "", "//", "/a/", "@releaseDomain", "/a b", "/a\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		if checkPath("read", p) == nil {
			if p == "" || strings.IndexByte(p, 0) >= 0 || p[0] == '@' ||
				p[0] == '/' && len(p) > AbsPathMax || p[0] != '/' && len(p) > RelPathMax ||
				p != "/" && (strings.Contains(p, "//") || strings.HasSuffix(p, "/")) {
				t.Fatalf("checkPath accepted %q", p)
			}
			if checkWatchPath("watch", p) != nil {
				t.Fatalf("watch path rejected node path %q", p)
			}
		}
		if checkWatchPath("watch", p) == nil && (strings.IndexByte(p, 0) >= 0 || len(p) > AbsPathMax) {
			t.Fatalf("checkWatchPath accepted %q", p)
		}
	})
}

// FuzzClientReplies puts a Client in front of a peer that answers with
// arbitrary bytes. Whatever arrives, the Client must not panic, and every
// call must return once the peer hangs up.
func FuzzClientReplies(f *testing.F) {
	reply := func(t msgType, req uint32, payload string) []byte {
		return appendMessage(nil, t, req, 0, []byte(payload))
	}
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	f.Add([]byte{})
	f.Add(cat(
		reply(typeRead, 1, "value"),
		reply(typeDirectory, 2, "a\x00b\x00"),
		reply(typeGetPerms, 3, "b0\x00r1\x00"),
		reply(typeGetDomainPath, 4, "/local/domain/1\x00"),
		reply(typeWatch, 5, "OK\x00"),
		reply(typeWatchEvent, 0, "/w\x00t\x00"),
		reply(typeTransactionStart, 6, "9\x00"),
		reply(typeRead, 7, "x"),
		reply(typeTransactionEnd, 8, "OK\x00"),
	))
	f.Add(cat(reply(typeError, 1, "ENOENT\x00"), reply(typeError, 2, "E2BIG\x00"),
		reply(typeDirectoryPart, 7, "3\x00a\x00"), reply(typeDirectoryPart, 8, "3\x00b\x00\x00")))
	f.Add(cat(reply(typeError, 6, "EAGAIN\x00"), reply(typeWrite, 1, "OK\x00"), reply(typeWatchEvent, 0, "\x00\x00")))
	f.Add(hdr(typeRead, 1, 0, 0xffff))

	f.Fuzz(func(t *testing.T, data []byte) {
		cconn, peer := net.Pipe()
		c := NewClient(cconn)
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()

		ops := []func(){
			func() { c.Read(ctx, "/r") },
			func() { c.Directory(ctx, "/d") },
			func() { c.GetPermissions(ctx, "/p") },
			func() { c.GetDomainPath(ctx, 1) },
			func() {
				w, err := c.Watch(ctx, "/w", "t")
				if err == nil {
					for range w.Events() {
					}
					w.Close()
				}
			},
			func() {
				c.Transaction(ctx, func(tx *Tx) error {
					_, err := tx.Read(ctx, "/x")
					return err
				})
			},
		}
		var wg sync.WaitGroup
		for _, op := range ops {
			wg.Add(1)
			go func() { defer wg.Done(); op() }()
			// Wait for the request so req_ids are assigned in order.
			if _, err := readMessage(peer); err != nil {
				t.Fatal(err)
			}
		}
		go io.Copy(io.Discard, peer) // later requests (transaction body, aborts)
		peer.Write(data)
		peer.Close()

		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("calls still pending after the peer hung up")
		}
		select {
		case <-c.Done():
		case <-time.After(5 * time.Second):
			t.Fatal("client did not notice the peer hanging up")
		}
	})
}
