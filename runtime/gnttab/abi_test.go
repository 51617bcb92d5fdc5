package gnttab

import (
	"encoding/binary"
	"testing"
	"unsafe"
)

func TestFixedLayouts(t *testing.T) {
	var d deallocGref
	var n unmapNotify
	var u unmapGrantRef
	for _, c := range []struct {
		name      string
		got, want uintptr
	}{
		{"sizeof dealloc_gref", unsafe.Sizeof(d), 16},
		{"dealloc_gref.index", unsafe.Offsetof(d.Index), 0},
		{"dealloc_gref.count", unsafe.Offsetof(d.Count), 8},
		{"sizeof unmap_notify", unsafe.Sizeof(n), 16},
		{"unmap_notify.index", unsafe.Offsetof(n.Index), 0},
		{"unmap_notify.action", unsafe.Offsetof(n.Action), 8},
		{"unmap_notify.event_channel_port", unsafe.Offsetof(n.Port), 12},
		{"sizeof unmap_grant_ref", unsafe.Sizeof(u), 16},
		{"unmap_grant_ref.index", unsafe.Offsetof(u.Index), 0},
		{"unmap_grant_ref.count", unsafe.Offsetof(u.Count), 8},
	} {
		if c.got != c.want {
			t.Errorf("%s = %d, want %d", c.name, c.got, c.want)
		}
	}
}

func TestAllocGrefEncoding(t *testing.T) {
	for _, count := range []int{1, 2, 3, 256} {
		b := encodeAllocGref(0x1234, true, count)
		if want := max(24, 16+4*count); len(b) < want || len(b)%8 != 0 {
			t.Fatalf("count %d: %d-byte argument, want >= %d and 8-aligned", count, len(b), want)
		}
		ne := binary.NativeEndian
		if ne.Uint16(b[0:]) != 0x1234 || ne.Uint16(b[2:]) != 1 || ne.Uint32(b[4:]) != uint32(count) {
			t.Fatalf("count %d: header % x", count, b[:16])
		}
		// What the kernel writes back: index at 8, grant ids from 16.
		ne.PutUint64(b[8:], 0xabc000)
		for i := 0; i < count; i++ {
			ne.PutUint32(b[16+4*i:], uint32(100+i))
		}
		idx, refs, err := decodeAllocGref(b, count)
		if err != nil || idx != 0xabc000 || len(refs) != count || refs[0] != 100 || refs[count-1] != uint32(100+count-1) {
			t.Fatalf("decode: %#x %v %v", idx, refs, err)
		}
	}
	if b := encodeAllocGref(7, false, 1); binary.NativeEndian.Uint16(b[2:]) != 0 {
		t.Fatal("read-only grant has the writable flag")
	}
	if _, _, err := decodeAllocGref(make([]byte, 24), 3); err == nil {
		t.Fatal("short result accepted")
	}
}

func TestMapGrantRefEncoding(t *testing.T) {
	refs := []Ref{11, 22, 33}
	b := encodeMapGrantRef(5, refs)
	if len(b) != 16+8*3 {
		t.Fatalf("%d-byte argument", len(b))
	}
	ne := binary.NativeEndian
	if ne.Uint32(b[0:]) != 3 || ne.Uint32(b[4:]) != 0 {
		t.Fatalf("header % x", b[:8])
	}
	for i, r := range refs {
		if ne.Uint32(b[16+8*i:]) != 5 || ne.Uint32(b[20+8*i:]) != r {
			t.Fatalf("ref %d: % x", i, b[16+8*i:24+8*i])
		}
	}
	ne.PutUint64(b[8:], 0x7000)
	if decodeMapGrantRef(b) != 0x7000 {
		t.Fatal("index not read from offset 8")
	}
	if len(encodeMapGrantRef(5, refs[:1])) != 24 {
		t.Fatal("single-ref argument shorter than sizeof")
	}
}

func TestNotifyArg(t *testing.T) {
	n, err := notifyArg(0x10000, PageSize, UnmapNotify{Offset: 21, Action: NotifyClearByte | NotifySendEvent, Port: 9})
	if err != nil || n.Index != 0x10015 || n.Action != 3 || n.Port != 9 {
		t.Fatalf("notifyArg = %+v, %v", n, err)
	}
	for _, bad := range []UnmapNotify{
		{Offset: PageSize, Action: NotifyClearByte},
		{Offset: -1, Action: NotifyClearByte},
		{Action: 0},
		{Action: 4},
	} {
		if _, err := notifyArg(0, PageSize, bad); err == nil {
			t.Errorf("notifyArg(%+v) accepted", bad)
		}
	}
	for _, p := range []int{0, -1, MaxPages + 1} {
		if checkPages(p) == nil {
			t.Errorf("checkPages(%d) accepted", p)
		}
	}
}
