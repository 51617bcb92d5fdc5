package p9

import (
	"bytes"
	"testing"
)

// Codec benchmarks: the messages a file server handles most (walks,
// getattrs, 64 KiB reads and writes, directory listings).
//
//	go test -run '^$' -bench . -benchmem ./runtime/p9/

func benchMessages() map[string]Message {
	ents := make([]Dirent, 100)
	for i := range ents {
		ents[i] = Dirent{QID: QID{Path: uint64(i)}, Offset: uint64(i + 1), Type: 8, Name: "some-file-name.txt"}
	}
	return map[string]Message{
		"Twalk3":      &Twalk{FID: 1, NewFID: 2, Names: []string{"usr", "lib", "libc.so.6"}},
		"Rgetattr":    &Rgetattr{Valid: AttrBasic, QID: QID{Path: 42}, Attr: Attr{Mode: ModeRegular | 0o755, Size: 1 << 20}},
		"Twrite64K":   &Twrite{FID: 3, Offset: 1 << 20, Data: bytes.Repeat([]byte{1}, 64<<10)},
		"Rread64K":    &Rread{Data: bytes.Repeat([]byte{1}, 64<<10)},
		"Rreaddir100": &Rreaddir{Entries: ents},
	}
}

func BenchmarkEncode(b *testing.B) {
	for name, m := range benchMessages() {
		b.Run(name, func(b *testing.B) {
			buf := make([]byte, 0, 128<<10)
			b.ReportAllocs()
			for b.Loop() {
				out, err := AppendMessage(buf[:0], 1, m)
				if err != nil {
					b.Fatal(err)
				}
				b.SetBytes(int64(len(out)))
			}
		})
	}
}

func BenchmarkDecode(b *testing.B) {
	for name, m := range benchMessages() {
		b.Run(name, func(b *testing.B) {
			wire, err := AppendMessage(nil, 1, m)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(wire)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := DecodeMessage(m.Type(), wire[headerSize:]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
