//go:build linux

package sharefs

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// FuzzServer feeds the server arbitrary message streams. However hostile,
// a stream may only ever end its own connection: the server must not panic,
// hang, or touch anything outside the share (a sentinel directory next to
// it, with symlinks to it and to / planted in the share to tempt it).
//
// An input is a list of records, type[1] tag[2] length[2] body, which the
// harness frames into 9P messages after a Tversion and a Tattach of fid 0,
// so the fuzzer spends its time on file operations rather than on framing.
// An input starting with 0xff is sent as it is instead, framing included.
//
//	go test -run '^$' -fuzz FuzzServer ./runtime/sharefs/
func FuzzServer(f *testing.F) {
	for _, seed := range fuzzSeeds() {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzOne(t, data)
	})
}

func fuzzOne(t *testing.T, data []byte) {
	base := t.TempDir()
	dir := filepath.Join(base, "share")
	outside := filepath.Join(base, "outside")
	for _, d := range []string{dir, outside, filepath.Join(dir, "d"), filepath.Join(outside, "dir")} {
		must(t, os.Mkdir(d, 0o755))
	}
	must(t, os.WriteFile(filepath.Join(outside, "secret"), []byte("dom0"), 0o640))
	must(t, os.WriteFile(filepath.Join(dir, "f"), []byte("guest file"), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "d", "g"), []byte("g"), 0o644))
	for name, target := range map[string]string{
		"toroot": "/", "tosecret": "../outside/secret", "todir": "../outside/dir",
		"abssecret": filepath.Join(outside, "secret"),
	} {
		must(t, os.Symlink(target, filepath.Join(dir, name)))
	}
	must(t, unix.Mkfifo(filepath.Join(dir, "fifo"), 0o644))
	before := snapshot(t, base, dir)
	rootBefore := rootNames(t)

	share, err := New(Config{Dir: dir, MaxMessageSize: 16 << 10, MaxFIDs: 64, MaxOpenFiles: 128, MaxInflight: 4})
	must(t, err)
	defer share.Close()
	srv, cli := net.Pipe()
	served := make(chan error, 1)
	go func() { served <- share.Serve(context.Background(), srv) }()
	go io.Copy(io.Discard, cli) // replies

	stream := fuzzStream(data)
	go func() {
		cli.Write(stream)
		cli.Close()
	}()
	select {
	case <-served:
	case <-time.After(time.Minute):
		// Not a timing assertion: a stream of at most a few KiB is
		// served in milliseconds; a minute means the server is stuck.
		// Panic for the goroutine dump (and so the fuzzer keeps the input).
		panic("sharefs: server stuck on a fuzz input")
	}
	must(t, share.Close())

	if after := snapshot(t, base, dir); !equalSnap(before, after) {
		t.Fatalf("outside the share changed:\n%s", diffSnap(before, after))
	}
	if after := rootNames(t); after != rootBefore {
		t.Fatalf("/ changed: %s -> %s", rootBefore, after)
	}
}

// fuzzStream turns a fuzz input into the bytes sent to the server.
func fuzzStream(data []byte) []byte {
	if len(data) > 0 && data[0] == 0xff {
		return data[1:]
	}
	out := append(versionMsg(8192, "9P2000.L"), attachMsg(1, 0)...)
	for len(data) >= 5 {
		typ, tag := data[0], binary.LittleEndian.Uint16(data[1:])
		n := int(binary.LittleEndian.Uint16(data[3:]))
		data = data[5:]
		n = min(n, len(data))
		out = append(out, frame(typ, tag, data[:n])...)
		data = data[n:]
	}
	return out
}

func rootNames(t *testing.T) string {
	ents, err := os.ReadDir("/")
	must(t, err)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return strings.Join(names, ",")
}

// rec is one fuzz record.
func rec(typ uint8, tag uint16, body []byte) []byte {
	r := []byte{typ}
	r = binary.LittleEndian.AppendUint16(r, tag)
	r = binary.LittleEndian.AppendUint16(r, uint16(len(body)))
	return append(r, body...)
}

func walkBody(fid, newfid uint32, names ...string) []byte {
	e := (&enc{}).u32(fid).u32(newfid).u16(uint16(len(names)))
	for _, n := range names {
		e.str(n)
	}
	return e.b
}

func cat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// fuzzSeeds are the escape attempts of the escape suite, as message
// streams, plus malformed messages.
func fuzzSeeds() [][]byte {
	open := func(tag uint16, fid, flags uint32) []byte {
		return rec(tTlopen, tag, (&enc{}).u32(fid).u32(flags).b)
	}
	write := func(tag uint16, fid uint32, s string) []byte {
		return rec(tTwrite, tag, (&enc{}).u32(fid).u64(0).u32(uint32(len(s))).raw([]byte(s)).b)
	}
	setattr := func(tag uint16, fid, valid, mode, uid uint32, size uint64) []byte {
		return rec(tTsetattr, tag, (&enc{}).u32(fid).u32(valid).u32(mode).u32(uid).u32(uid).u64(size).u64(0).u64(0).u64(0).u64(0).b)
	}
	return [][]byte{
		// Walks out: "..", through symlinks, too deep.
		cat(rec(tTwalk, 2, walkBody(0, 1, "..")), rec(tTwalk, 3, walkBody(0, 2, "toroot", "etc", "passwd"))),
		cat(rec(tTwalk, 2, walkBody(0, 1, "todir", "x")), rec(tTwalk, 3, walkBody(0, 2, "d", "..", ".."))),
		// Open and write through a symlink to dom0's file.
		cat(rec(tTwalk, 2, walkBody(0, 1, "tosecret")), open(3, 1, 2), write(4, 1, "pwned")),
		cat(rec(tTwalk, 2, walkBody(0, 1, "abssecret")), setattr(3, 1, 0x0f, 0o777, 0, 0)),
		// Create in a symlink fid; create over a symlink name.
		cat(rec(tTwalk, 2, walkBody(0, 1, "todir")), rec(tTlcreate, 3, (&enc{}).u32(1).str("x").u32(2).u32(0o666).u32(0).b)),
		cat(rec(tTwalk, 2, walkBody(0, 1)), rec(tTlcreate, 3, (&enc{}).u32(1).str("tosecret").u32(0x202).u32(0o666).u32(0).b)),
		// Names with separators and NUL.
		rec(tTmkdir, 2, (&enc{}).u32(0).str("../evil").u32(0o777).u32(0).b),
		rec(tTsymlink, 2, (&enc{}).u32(0).str("a/b").str("/").u32(0).b),
		rec(tTmknod, 2, (&enc{}).u32(0).str("x\x00y").u32(0o10644).u32(0).u32(0).u32(0).b),
		// Devices, FIFOs.
		rec(tTmknod, 2, (&enc{}).u32(0).str("mem").u32(0o20666).u32(1).u32(1).u32(0).b),
		cat(rec(tTwalk, 2, walkBody(0, 1, "fifo")), open(3, 1, 0)),
		// Links and renames out.
		cat(rec(tTwalk, 2, walkBody(0, 1, "tosecret")), rec(tTlink, 3, (&enc{}).u32(0).u32(1).str("hl").b)),
		rec(tTrenameat, 2, (&enc{}).u32(0).str("f").u32(0).str("../stolen").b),
		cat(rec(tTwalk, 2, walkBody(0, 1, "todir")), rec(tTrenameat, 3, (&enc{}).u32(1).str("secret").u32(0).str("x").b)),
		rec(tTunlinkat, 2, (&enc{}).u32(0).str("..").u32(0x200).b),
		// Xattrs: huge, on a symlink, hidden namespaces.
		cat(rec(tTwalk, 2, walkBody(0, 1, "f")), rec(tTxattrcreat, 3, (&enc{}).u32(1).str("user.x").u64(1<<40).u32(0).b)),
		cat(rec(tTwalk, 2, walkBody(0, 1, "tosecret")), rec(tTxattrcreat, 3, (&enc{}).u32(1).str("trusted.x").u64(1).u32(0).b),
			write(4, 1, "y"), rec(tTclunk, 5, (&enc{}).u32(1).b)),
		cat(rec(tTwalk, 2, walkBody(0, 1, "f")), rec(tTxattrwalk, 3, (&enc{}).u32(1).u32(2).str("").b),
			rec(tTclunk, 4, (&enc{}).u32(2).b), open(5, 1, 0)),
		// Reads: huge counts, readdir, locks.
		cat(rec(tTwalk, 2, walkBody(0, 1, "f")), open(3, 1, 0), rec(tTread, 4, (&enc{}).u32(1).u64(0).u32(1<<31).b)),
		cat(rec(tTwalk, 2, walkBody(0, 1)), open(3, 1, 0), rec(tTreaddir, 4, (&enc{}).u32(1).u64(0).u32(100000).b)),
		cat(rec(tTwalk, 2, walkBody(0, 1, "f")), open(3, 1, 2),
			rec(tTlock, 4, (&enc{}).u32(1).u8(1).u32(1).u64(0).u64(0).u32(1).str("c").b),
			rec(tTgetlock, 5, (&enc{}).u32(1).u8(0).u64(0).u64(0).u32(1).str("c").b)),
		// Protocol abuse: Tversion again, duplicate tags, flush, remove root.
		cat(rec(tTwalk, 2, walkBody(0, 1)), rec(tTversion, noTag, (&enc{}).u32(1<<30).str("9P2000.L").b), rec(tTgetattr, 3, (&enc{}).u32(1).u64(0x7ff).b)),
		cat(rec(tTflush, 2, (&enc{}).u16(2).b), rec(tTremove, 3, (&enc{}).u32(0).b), rec(tTstatfs, 4, (&enc{}).u32(0).b)),
		cat(rec(tTwalk, 7, walkBody(0, 1, "d")), rec(tTwalk, 7, walkBody(0, 2, "d")), rec(tTreadlink, 8, (&enc{}).u32(1).b)),
		// Raw streams.
		append([]byte{0xff}, versionMsg(8192, "9P2000.L")...),
		append([]byte{0xff}, cat(versionMsg(8192, "9P2000.L"), []byte{0xff, 0xff, 0xff, 0x7f, tTwalk, 0, 0})...),
		{0xff, 7, 0, 0, 0, tTversion, 0xff, 0xff},
		{},
	}
}
