//go:build linux

package gnttab

import (
	"os"
	"strconv"
	"testing"
)

func TestIoctlNumbers(t *testing.T) {
	// The x86-64 table of the project's Xen notes (Linux uapi headers).
	for _, c := range []struct {
		name      string
		got, want uintptr
	}{
		{"GNTALLOC_ALLOC_GREF", ioctlAllocGref, 0x00184705},
		{"GNTALLOC_DEALLOC_GREF", ioctlDeallocGref, 0x00104706},
		{"GNTALLOC_SET_UNMAP_NOTIFY", ioctlAllocUnmapNotify, 0x00104707},
		{"GNTDEV_MAP_GRANT_REF", ioctlMapGrantRef, 0x00184700},
		{"GNTDEV_UNMAP_GRANT_REF", ioctlUnmapGrantRef, 0x00104701},
		{"GNTDEV_SET_UNMAP_NOTIFY", ioctlDevUnmapNotify, 0x00104707},
	} {
		if c.got != c.want {
			t.Errorf("IOCTL_%s = %#08x, want %#08x", c.name, c.got, c.want)
		}
	}
}

func TestOpenMissing(t *testing.T) {
	if _, err := OpenSharerPath("/nonexistent/gntalloc"); !os.IsNotExist(err) {
		t.Fatalf("OpenSharerPath on a missing path: %v", err)
	}
	if _, err := OpenMapperPath("/nonexistent/gntdev"); !os.IsNotExist(err) {
		t.Fatalf("OpenMapperPath on a missing path: %v", err)
	}
}

func TestDeviceRefcount(t *testing.T) {
	m, err := OpenMapperPath("/dev/null")
	if err != nil {
		t.Skip(err)
	}
	// An ioctl on /dev/null fails; the reference taken for it is returned.
	if _, err := m.Map(0, []Ref{1}, true, nil); err == nil {
		t.Fatal("Map through /dev/null succeeded")
	}
	if m.dev.refs != 1 {
		t.Fatalf("refs = %d after a failed Map", m.dev.refs)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != ErrClosed {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := m.Map(0, []Ref{1}, true, nil); err != ErrClosed {
		t.Fatalf("Map after Close: %v", err)
	}
}

// TestXenShareMap runs only where both devices exist: it grants pages to
// this very domain (RUNXEN_TEST_DOMID, default 0) and maps them back.
func TestXenShareMap(t *testing.T) {
	for _, p := range []string{AllocPath, DevPath} {
		if _, err := os.Stat(p); err != nil {
			t.Skipf("no %s", p)
		}
	}
	self := 0
	if s := os.Getenv("RUNXEN_TEST_DOMID"); s != "" {
		self, _ = strconv.Atoi(s)
	}
	s, err := OpenSharer()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	m, err := OpenMapper()
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	sh, err := s.Share(uint16(self), 3, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	mp, err := m.Map(uint32(self), sh.Refs(), true, &UnmapNotify{Offset: 5, Action: NotifyClearByte})
	if err != nil {
		sh.Unshare()
		t.Fatal(err)
	}
	sh.Mem()[2*PageSize+7] = 0x5a
	sh.Mem()[5] = 1
	if mp.Mem()[2*PageSize+7] != 0x5a {
		t.Error("write through the share not seen through the mapping")
	}
	if err := mp.Unmap(); err != nil {
		t.Fatal(err)
	}
	if sh.Mem()[5] != 0 {
		t.Error("unmap notify did not clear the byte")
	}
	if err := sh.Unshare(); err != nil {
		t.Fatal(err)
	}
}
