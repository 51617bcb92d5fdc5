package p9_test

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"

	"github.com/runxen/runxen/runtime/p9"
	"github.com/runxen/runxen/runtime/p9/p9test"
)

// FuzzServer feeds the server loop arbitrary message streams over an
// in-memory file system. However hostile, a stream may only end its own
// connection: Serve must return (no hang, no panic), and every File it was
// given must be closed exactly once.
//
// An input is a list of records, type[1] tag[2] length[2] body, framed into
// messages after a Tversion and a Tattach of fid 0, so the fuzzer spends its
// time on requests rather than framing; an input starting with 0xff is sent
// as it is, framing included.
//
//	go test -run '^$' -fuzz FuzzServer ./runtime/p9/
func FuzzServer(f *testing.F) {
	for _, seed := range serverSeeds() {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fs := p9test.New()
		root, _ := fs.Attach("", p9.NoUID)
		root.Mkdir("d", 0o755, p9.NoGID)
		nf, _, _, _ := root.Create("f", p9.ReadWrite, 0o644, p9.NoGID)
		nf.WriteAt([]byte("some content"), 0)
		nf.Close()
		root.Close()

		s, c := net.Pipe()
		srv := &p9.Server{Attacher: fs, MaxMessageSize: 16 << 10, MaxFIDs: 32, MaxInflight: 4, MaxXattrBytes: 128 << 10}
		done := make(chan error, 1)
		go func() { done <- srv.Serve(context.Background(), s) }()
		go io.Copy(io.Discard, c)
		go func() {
			c.Write(streamOf(data))
			c.Close()
		}()
		select {
		case <-done:
		case <-time.After(time.Minute):
			// A stream of a few KiB is served in milliseconds: a minute
			// means the server is stuck. Panic for the goroutine dump.
			panic("p9: server stuck on a fuzz input")
		}
		if n := fs.OpenFiles(); n != 0 {
			t.Fatalf("%d Files left open", n)
		}
		if n := fs.DoubleCloses(); n != 0 {
			t.Fatalf("%d Files closed twice", n)
		}
	})
}

func streamOf(data []byte) []byte {
	if len(data) > 0 && data[0] == 0xff {
		return data[1:]
	}
	out, _ := p9.AppendMessage(nil, p9.NoTag, &p9.Tversion{MSize: 8192, Version: p9.Version})
	out, _ = p9.AppendMessage(out, 1, &p9.Tattach{FID: 0, AFID: p9.NoFID, NUName: p9.NoUID})
	for len(data) >= 5 {
		typ, tag := data[0], binary.LittleEndian.Uint16(data[1:])
		n := min(int(binary.LittleEndian.Uint16(data[3:])), len(data)-5)
		out = binary.LittleEndian.AppendUint32(out, uint32(7+n))
		out = append(out, typ)
		out = binary.LittleEndian.AppendUint16(out, tag)
		out = append(out, data[5:5+n]...)
		data = data[5+n:]
	}
	return out
}

// record makes one fuzz record of a message.
func record(tag uint16, m p9.Message) []byte {
	b, err := p9.AppendMessage(nil, tag, m)
	if err != nil {
		panic(err)
	}
	r := []byte{b[4]}
	r = binary.LittleEndian.AppendUint16(r, tag)
	r = binary.LittleEndian.AppendUint16(r, uint16(len(b)-7))
	return append(r, b[7:]...)
}

func cat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func serverSeeds() [][]byte {
	return [][]byte{
		cat(record(2, &p9.Twalk{FID: 0, NewFID: 1, Names: []string{"f"}}),
			record(3, &p9.Tlopen{FID: 1, Flags: p9.ReadWrite}),
			record(4, &p9.Twrite{FID: 1, Data: []byte("x")}),
			record(5, &p9.Tread{FID: 1, Count: 1 << 30}),
			record(6, &p9.Tclunk{FID: 1})),
		cat(record(2, &p9.Twalk{FID: 0, NewFID: 1}),
			record(3, &p9.Tlcreate{FID: 1, Name: "new", Flags: p9.WriteOnly, Mode: 0o4755}),
			record(4, &p9.Tlcreate{FID: 1, Name: "again", Flags: p9.WriteOnly, Mode: 0o644}),
			record(5, &p9.Twalk{FID: 1, NewFID: 1})),
		cat(record(2, &p9.Twalk{FID: 0, NewFID: 1}),
			record(3, &p9.Txattrcreate{FID: 1, Name: "user.x", Size: 5}),
			record(4, &p9.Twrite{FID: 1, Data: []byte("abc")}),
			record(5, &p9.Twrite{FID: 1, Offset: 3, Data: []byte("de")}),
			record(6, &p9.Tclunk{FID: 1}),
			record(7, &p9.Txattrwalk{FID: 0, NewFID: 2, Name: "user.x"}),
			record(8, &p9.Tread{FID: 2, Count: 100}),
			record(9, &p9.Txattrwalk{FID: 0, NewFID: 3})),
		cat(record(2, &p9.Tmkdir{DirFID: 0, Name: "..", Mode: 0o777}),
			record(3, &p9.Tsymlink{DirFID: 0, Name: "l", Target: "/"}),
			record(4, &p9.Twalk{FID: 0, NewFID: 1, Names: []string{"l", "etc"}}),
			record(5, &p9.Tlink{DirFID: 0, FID: 0, Name: "x"}),
			record(6, &p9.Trenameat{OldDirFID: 0, OldName: "d", NewDirFID: 0, NewName: "e"}),
			record(7, &p9.Tunlinkat{DirFID: 0, Name: "e", Flags: p9.AtRemoveDir})),
		cat(record(2, &p9.Twalk{FID: 0, NewFID: 1}),
			record(2, &p9.Twalk{FID: 0, NewFID: 2}),
			record(3, &p9.Tflush{OldTag: 2}),
			record(4, &p9.Tflush{OldTag: 4})),
		cat(record(2, &p9.Tversion{MSize: 4096, Version: p9.Version}),
			record(3, &p9.Tgetattr{FID: 0}),
			record(4, &p9.Tattach{FID: 5, AFID: p9.NoFID, AName: "d"})),
		cat(record(2, &p9.Tremove{FID: 0}), record(3, &p9.Tstatfs{FID: 0}),
			record(4, &p9.Tauth{AFID: 1}), record(5, &p9.Trename{FID: 0, DirFID: 0, Name: "x"})),
		cat(record(2, &p9.Twalk{FID: 0, NewFID: 1, Names: []string{"f"}}),
			record(3, &p9.Tlopen{FID: 1}),
			record(4, &p9.Tlock{FID: 1, Lock: p9.LockInfo{Type: p9.WriteLock, ClientID: "c"}}),
			record(5, &p9.Tgetlock{FID: 1, Lock: p9.LockInfo{Type: 9}}),
			record(6, &p9.Tfsync{FID: 1, DataSync: 1}),
			record(7, &p9.Treaddir{FID: 1, Count: 1 << 31}),
			record(8, &p9.Tsetattr{FID: 1, Valid: 0xffffffff, Attr: p9.SetAttr{Mode: 0o7777, Size: 1 << 62}})),
		append([]byte{0xff}, []byte{21, 0, 0, 0, 100, 0xff, 0xff, 0, 32, 0, 0, 8, 0, '9', 'P', '2', '0', '0', '0', '.', 'L'}...),
		{0xff, 7, 0, 0, 0, 100, 0xff, 0xff},
		{0xff, 0xff, 0xff, 0xff, 0x7f, 110, 0, 0},
		{},
	}
}
