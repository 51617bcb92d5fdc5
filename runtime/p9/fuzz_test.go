package p9

import (
	"bytes"
	"testing"
)

// FuzzDecode feeds every message type arbitrary bodies. Decoding must never
// panic or allocate beyond the input, and whatever decodes must encode back
// to exactly the same bytes: the format has one encoding per message, so a
// decoder that accepts anything else (a count it did not check, a byte it
// skipped) shows up here.
//
//	go test -run '^$' -fuzz FuzzDecode ./runtime/p9/
func FuzzDecode(f *testing.F) {
	for _, m := range sampleMessages() {
		b, err := AppendMessage(nil, 1, m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(uint8(m.Type()), b[headerSize:])
	}
	f.Add(uint8(MsgTwalk), []byte{0, 0, 0, 0, 1, 0, 0, 0, 17, 0})
	f.Add(uint8(MsgRreaddir), []byte{0xff, 0xff, 0xff, 0xff})
	f.Add(uint8(112), []byte{})
	f.Fuzz(func(t *testing.T, typ uint8, body []byte) {
		m, err := DecodeMessage(MsgType(typ), body)
		if err != nil {
			if m != nil {
				t.Fatal("a message and an error")
			}
			return
		}
		if m.Type() != MsgType(typ) {
			t.Fatalf("decoded %v as %v", MsgType(typ), m.Type())
		}
		if w, ok := m.(*Twalk); ok && len(w.Names) > MaxWalkNames {
			t.Fatalf("walk of %d names decoded", len(w.Names))
		}
		b, err := AppendMessage(nil, 7, m)
		if err != nil {
			t.Fatalf("re-encoding %v: %v", m.Type(), err)
		}
		if !bytes.Equal(b[headerSize:], body) {
			t.Fatalf("%v re-encodes differently:\n  in %x\n out %x", m.Type(), body, b[headerSize:])
		}
	})
}
