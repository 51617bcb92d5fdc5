package vchan

import (
	"errors"
	"testing"
	"time"
)

func TestChooseOrders(t *testing.T) {
	// Expected values follow libxenvchan_server_init's choice.
	for _, c := range []struct{ left, right, lo, ro int }{
		{0, 0, 10, 11},
		{1024, 2048, 10, 11},
		{2048, 1024, 11, 10},
		{2048, 2048, 11, 12},
		{100, 3000, 11, 12},
		{3000, 100, 12, 11},
		{4096, 16 << 10, 12, 14},
		{2048, 64 << 10, 11, 16},
		{5000, 5000, 13, 13},
		{1 << 20, 1 << 20, 20, 20},
	} {
		lo, ro, err := chooseOrders(c.left, c.right)
		if err != nil || lo != c.lo || ro != c.ro {
			t.Errorf("chooseOrders(%d, %d) = %d, %d, %v; want %d, %d", c.left, c.right, lo, ro, err, c.lo, c.ro)
		}
		if err := checkOrders(lo, ro); err != nil {
			t.Errorf("our own orders %d/%d fail the client's check: %v", lo, ro, err)
		}
	}
	for _, bad := range [][2]int{{-1, 0}, {0, 1<<20 + 1}} {
		if _, _, err := chooseOrders(bad[0], bad[1]); err == nil {
			t.Errorf("chooseOrders(%d, %d) accepted", bad[0], bad[1])
		}
	}
}

// FuzzCheckOrders: whatever orders a hostile server claims, accepted ones
// describe rings and a grant list that fit the page without overlapping.
func FuzzCheckOrders(f *testing.F) {
	f.Add(uint16(10), uint16(11))
	f.Add(uint16(10), uint16(20))
	f.Add(uint16(20), uint16(20))
	f.Add(uint16(65535), uint16(0))
	f.Fuzz(func(t *testing.T, lo, ro uint16) {
		if checkOrders(int(lo), int(ro)) != nil {
			return
		}
		type span struct{ a, b int }
		var used []span
		grants := offGrants + 4*(pagesFor(int(lo))+pagesFor(int(ro)))
		used = append(used, span{0, grants})
		for _, o := range []int{int(lo), int(ro)} {
			if o < pageOrder {
				off := smallOffset
				if o == largeOrder {
					off = largeOffset
				}
				used = append(used, span{off, off + 1<<o})
			} else if o > MaxOrder {
				t.Fatalf("order %d accepted", o)
			}
		}
		for i, s := range used {
			if s.b > pageSize {
				t.Fatalf("orders %d/%d: span %v beyond the page", lo, ro, s)
			}
			for _, u := range used[i+1:] {
				if s.a < u.b && u.a < s.b {
					t.Fatalf("orders %d/%d: spans %v and %v overlap", lo, ro, s, u)
				}
			}
		}
	})
}

func FuzzParseUint32(f *testing.F) {
	for _, s := range []string{"0", "17", "4294967295", "4294967296", "-1", "", " 1", "1\x00", "0x10"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := parseUint32("x", b)
		if err != nil {
			if !errors.Is(err, ErrProtocol) {
				t.Fatalf("error %v does not wrap ErrProtocol", err)
			}
			return
		}
		if _, err := parseUint32("x", []byte(uitoa(v))); err != nil {
			t.Fatalf("%d does not round-trip", v)
		}
	})
}

func uitoa(v uint32) string {
	if v == 0 {
		return "0"
	}
	var b []byte
	for ; v > 0; v /= 10 {
		b = append([]byte{byte('0' + v%10)}, b...)
	}
	return string(b)
}

func TestDeadline(t *testing.T) {
	var d deadline
	d.init()
	if isClosed(d.wait()) {
		t.Fatal("new deadline expired")
	}
	d.set(time.Now().Add(-time.Second))
	if !isClosed(d.wait()) {
		t.Fatal("past deadline not expired")
	}
	d.set(time.Time{})
	c := d.wait()
	if isClosed(c) {
		t.Fatal("cleared deadline still expired")
	}
	d.set(time.Now().Add(10 * time.Millisecond))
	d.set(time.Now().Add(time.Hour)) // the first timer must not fire
	time.Sleep(30 * time.Millisecond)
	if isClosed(c) {
		t.Fatal("extended deadline fired at its old time")
	}
	d.set(time.Now().Add(5 * time.Millisecond))
	select {
	case <-c: // the same channel a waiter holds closes
	case <-time.After(5 * time.Second):
		t.Fatal("shortened deadline did not fire")
	}
	d.stop()
}
