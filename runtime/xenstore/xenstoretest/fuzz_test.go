package xenstoretest

import (
	"encoding/binary"
	"io"
	"strings"
	"testing"
	"time"
)

// FuzzServer drives the fake with arbitrary request sequences from dom0 or
// a guest. Each fuzz input is cut into messages: a type byte, a
// transaction-id byte (small ids hit real transactions), a 16-bit length
// and that many payload bytes. The server must not panic, must answer every
// request with its req_id and a payload within XENSTORE_PAYLOAD_MAX, and
// must keep a well-formed tree.
func FuzzServer(f *testing.F) {
	add := func(domid byte, msgs ...[]byte) {
		b := []byte{domid}
		for _, m := range msgs {
			b = append(b, m...)
		}
		f.Add(b)
	}
	m := func(t msgType, tx byte, payload string) []byte {
		b := []byte{byte(t), tx}
		b = binary.LittleEndian.AppendUint16(b, uint16(len(payload)))
		return append(b, payload...)
	}
	add(0, m(xsWrite, 0, "/a/b\x00v"), m(xsRead, 0, "/a/b\x00"), m(xsDirectory, 0, "/a\x00"))
	add(0, m(xsTransactionStart, 0, "\x00"), m(xsWrite, 1, "/t\x00x"), m(xsTransactionEnd, 1, "T\x00"))
	add(0, m(xsWatch, 0, "/\x00tok\x00"), m(xsMkdir, 0, "/m/n\x00"), m(xsRm, 0, "/m\x00"), m(xsUnwatch, 0, "/\x00tok\x00"))
	add(5, m(xsWrite, 0, "rel/x\x00v"), m(xsSetPerms, 0, "rel\x00n5\x00r0\x00"), m(xsWatch, 0, "rel\x00t\x00"))
	add(0, m(xsDirectoryPart, 0, "/\x000\x00"), m(xsGetPerms, 0, "/\x00"), m(xsIntroduce, 0, "3\x001\x001\x00"))
	add(0, m(xsRelease, 0, "3\x00"), m(xsSetTarget, 0, "4\x003\x00"), m(xsResetWatches, 0, ""))

	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		domid := uint32(0)
		if data[0]&1 == 1 {
			domid = 5
		}
		data = data[1:]
		s := New(WithMaxTransactions(3), WithMaxWatches(4))
		defer s.Close()
		conn := s.ConnAs(domid)
		defer conn.Close()

		var reqs [][]byte
		for len(data) >= 4 {
			typ, tx := uint32(data[0]), uint32(data[1]%4)
			n := int(binary.LittleEndian.Uint16(data[2:4])) % 1024
			data = data[4:]
			n = min(n, len(data))
			payload := data[:n]
			data = data[n:]
			b := binary.LittleEndian.AppendUint32(nil, typ)
			b = binary.LittleEndian.AppendUint32(b, uint32(len(reqs)+1))
			b = binary.LittleEndian.AppendUint32(b, tx)
			b = binary.LittleEndian.AppendUint32(b, uint32(len(payload)))
			reqs = append(reqs, append(b, payload...))
		}
		// A final GET_DOMAIN_PATH marks the end: its reply comes last.
		sentinel := uint32(len(reqs) + 1)
		b := binary.LittleEndian.AppendUint32(nil, uint32(xsGetDomainPath))
		b = binary.LittleEndian.AppendUint32(b, sentinel)
		b = binary.LittleEndian.AppendUint32(b, 0)
		b = binary.LittleEndian.AppendUint32(b, 2)
		reqs = append(reqs, append(b, '1', 0))

		go func() {
			for _, r := range reqs {
				if _, err := conn.Write(r); err != nil {
					return
				}
			}
		}()
		conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		answered := map[uint32]bool{}
		for {
			var h [16]byte
			if _, err := io.ReadFull(conn, h[:]); err != nil {
				t.Fatalf("connection ended before the sentinel: %v", err)
			}
			typ := msgType(binary.LittleEndian.Uint32(h[0:]))
			req := binary.LittleEndian.Uint32(h[4:])
			n := binary.LittleEndian.Uint32(h[12:])
			if n > payloadMax {
				t.Fatalf("reply of %d bytes", n)
			}
			p := make([]byte, n)
			if _, err := io.ReadFull(conn, p); err != nil {
				t.Fatal(err)
			}
			if typ == xsWatchEvent {
				if req != 0 || strings.Count(string(p), "\x00") != 2 || p[len(p)-1] != 0 {
					t.Fatalf("bad event req %d %q", req, p)
				}
				continue
			}
			if req == 0 || int(req) > len(reqs) || answered[req] {
				t.Fatalf("reply to req %d (type %d)", req, typ)
			}
			answered[req] = true
			if typ == xsError && (len(p) < 2 || p[0] != 'E' || p[len(p)-1] != 0) {
				t.Fatalf("bad error payload %q", p)
			}
			if req == sentinel {
				break
			}
		}
		if len(answered) != len(reqs) {
			t.Fatalf("%d of %d requests answered", len(answered), len(reqs))
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		s.root.walk("/", func(p string, n *node) {
			if !validNodePath(p) || len(n.perms) == 0 {
				t.Fatalf("bad node %q perms %v", p, n.perms)
			}
		})
	})
}
