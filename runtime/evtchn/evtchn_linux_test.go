//go:build linux

package evtchn

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestIoctlNumbers(t *testing.T) {
	// From the x86-64 table in the project's Xen notes (Linux uapi
	// include/uapi/xen/evtchn.h).
	for _, c := range []struct {
		name      string
		got, want uintptr
	}{
		{"BIND_VIRQ", ioctlBindVIRQ, 0x00044500},
		{"BIND_INTERDOMAIN", ioctlBindInterdomain, 0x00084501},
		{"BIND_UNBOUND_PORT", ioctlBindUnboundPort, 0x00044502},
		{"UNBIND", ioctlUnbind, 0x00044503},
		{"NOTIFY", ioctlNotify, 0x00044504},
		{"RESET", ioctlReset, 0x00004505},
		{"RESTRICT_DOMID", ioctlRestrictDomainID, 0x00024506},
	} {
		if c.got != c.want {
			t.Errorf("IOCTL_EVTCHN_%s = %#08x, want %#08x", c.name, c.got, c.want)
		}
	}
}

// fifoHandle opens a FIFO as a stand-in device: what Unmask writes, Wait
// reads back, which exercises the read/write/poller paths without Xen.
func fifoHandle(t *testing.T) *Handle {
	t.Helper()
	path := filepath.Join(t.TempDir(), "evtchn")
	if err := unix.Mkfifo(path, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	h, err := OpenPath(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

func TestWaitReadsPorts(t *testing.T) {
	h := fifoHandle(t)
	for _, p := range []Port{7, 1 << 20, 3} {
		if err := h.Unmask(p); err != nil {
			t.Fatal(err)
		}
	}
	ports := make([]Port, 8)
	n, err := h.Wait(ports)
	if err != nil || n != 3 || ports[0] != 7 || ports[1] != 1<<20 || ports[2] != 3 {
		t.Fatalf("Wait = %d, %v, %v", n, err, ports[:n])
	}
	if _, err := h.Wait(nil); err == nil {
		t.Fatal("Wait(nil): no error")
	}
}

func TestWaitDeadline(t *testing.T) {
	h := fifoHandle(t)
	h.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	start := time.Now()
	_, err := h.Wait(make([]Port, 1))
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Wait past deadline: %v", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Fatal("deadline did not interrupt Wait")
	}
	h.SetReadDeadline(time.Time{})
}

func TestWaitContext(t *testing.T) {
	h := fifoHandle(t)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(20 * time.Millisecond); cancel() }()
	if _, err := h.WaitContext(ctx, make([]Port, 1)); !errors.Is(err, context.Canceled) {
		t.Fatalf("WaitContext after cancel: %v", err)
	}
	// The handle must be usable again afterwards with no stale deadline.
	h.Unmask(9)
	ports := make([]Port, 1)
	if n, err := h.WaitContext(context.Background(), ports); n != 1 || err != nil || ports[0] != 9 {
		t.Fatalf("WaitContext = %d, %v, %v", n, err, ports)
	}
	ctx, cancel = context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if _, err := h.WaitContext(ctx, ports); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitContext with timeout: %v", err)
	}
}

func TestCloseUnblocksWait(t *testing.T) {
	h := fifoHandle(t)
	errc := make(chan error, 1)
	go func() {
		_, err := h.Wait(make([]Port, 1))
		errc <- err
	}()
	time.Sleep(20 * time.Millisecond)
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errc:
		if !errors.Is(err, os.ErrClosed) {
			t.Fatalf("Wait after Close: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not unblock Wait")
	}
	if err := h.Notify(1); !errors.Is(err, os.ErrClosed) {
		t.Fatalf("Notify after Close: %v", err)
	}
	if err := h.Unmask(1); !errors.Is(err, os.ErrClosed) {
		t.Fatalf("Unmask after Close: %v", err)
	}
	if err := h.Close(); !errors.Is(err, os.ErrClosed) {
		t.Fatalf("second Close: %v", err)
	}
}

func TestIoctlErrors(t *testing.T) {
	h := fifoHandle(t)
	if err := h.Notify(1); !errors.Is(err, unix.ENOTTY) {
		t.Fatalf("Notify on a FIFO: %v", err)
	}
	if _, err := h.BindUnboundPort(0); !errors.Is(err, unix.ENOTTY) {
		t.Fatalf("BindUnboundPort on a FIFO: %v", err)
	}
}

func TestUnmaskWaitNoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	h := fifoHandle(t)
	ports := make([]Port, 4)
	allocs := testing.AllocsPerRun(100, func() {
		h.Unmask(5)
		h.Wait(ports)
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per Unmask+Wait", allocs)
	}
}

// TestXenLoopback runs only where /dev/xen/evtchn exists (dom0 or a guest
// with the driver): two handles of this domain bound to each other. Set
// RUNXEN_TEST_DOMID in a guest.
func TestXenLoopback(t *testing.T) {
	if _, err := os.Stat(DefaultPath); err != nil {
		t.Skip("no Xen event channel device")
	}
	a, err := Open()
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := Open()
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	// This domain's ID: RUNXEN_TEST_DOMID, default 0 (dom0).
	self := uint32(0)
	if s := os.Getenv("RUNXEN_TEST_DOMID"); s != "" {
		v, err := strconv.ParseUint(s, 10, 32)
		if err != nil {
			t.Fatal(err)
		}
		self = uint32(v)
	}
	pa, err := a.BindUnboundPort(self)
	if err != nil {
		t.Fatal(err)
	}
	pb, err := b.BindInterdomain(self, pa)
	if err != nil {
		t.Fatal(err)
	}
	ports := make([]Port, 4)
	for i := 0; i < 3; i++ {
		if err := b.Notify(pb); err != nil {
			t.Fatal(err)
		}
		a.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, err := a.Wait(ports)
		if err != nil || n != 1 || ports[0] != pa {
			t.Fatalf("Wait = %d, %v, %v (want port %d)", n, err, ports[:n], pa)
		}
		if err := a.Unmask(pa); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Unbind(pb); err != nil {
		t.Fatal(err)
	}
}
