//go:build linux

package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/runxen/runxen/runtime/vchan/vchantest"
	"github.com/runxen/runxen/runtime/xenstore"
	"github.com/runxen/runxen/runtime/xenstore/xenstoretest"
)

const testGuest = 5

// fakeXen is xenstore and the Xen devices in memory, with guest 5.
type fakeXen struct {
	hv              *vchantest.Hypervisor
	guestXS, hostXS *xenstore.Client
}

func newFakeXen(t *testing.T) *fakeXen {
	t.Helper()
	xs := xenstoretest.New()
	for _, err := range []error{
		xs.Mkdir("/local/domain/5"),
		xs.SetPermissions("/local/domain/5", "n5"),
		xs.Write("/local/domain/5/domid", []byte("5")),
		xs.Write("/local/domain/0/domid", []byte("0")),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	f := &fakeXen{
		hv:      vchantest.New(),
		guestXS: xenstore.NewClient(xs.ConnAs(testGuest)),
		hostXS:  xenstore.NewClient(xs.ConnAs(0)),
	}
	t.Cleanup(func() {
		f.guestXS.Close()
		f.hostXS.Close()
		xs.Close()
	})
	return f
}

func (f *fakeXen) startGuest(t *testing.T, rings ...int) *guest {
	t.Helper()
	g, err := newGuest(guestConfig{peer: 0, rings: rings, proxy: "none", timeout: time.Minute,
		sockDir: t.TempDir(), devices: f.hv.Domain(testGuest)}, f.guestXS, testGuest)
	if err != nil {
		t.Fatal(err)
	}
	g.svc.logf = t.Logf
	t.Cleanup(func() { g.ping.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := g.start(ctx); err != nil {
		t.Fatal(err)
	}
	return g
}

// TestHostAndGuest runs both roles in one process over the fakes: every
// interop check, the benchmark and the shutdown, Go vchan on both ends.
func TestHostAndGuest(t *testing.T) {
	f := newFakeXen(t)
	g := f.startGuest(t, 0, 64<<10)
	// As runGuest does: withdraw everything once told to shut down.
	stopped := make(chan []string, 1)
	go func() { <-g.shutdown; stopped <- g.stop() }()
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	h, err := newHost(ctx, hostConfig{
		domid: testGuest, interop: true, bench: true, shutdown: true,
		checkSize: 300 << 10, benchSize: 1 << 20, benchTime: time.Hour, rttCount: 20, rttTime: time.Hour, rounds: 2, pingSize: 64,
		devices: f.hv.Domain(0),
	}, f.hostXS, &out)
	if err != nil {
		t.Fatal(err)
	}
	err = h.run(ctx)
	h.close()
	t.Log(out.String())
	if err != nil {
		t.Fatal(err)
	}
	select {
	case left := <-stopped:
		if len(left) != 0 {
			t.Errorf("guest left %v in xenstore", left)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the guest did not shut down")
	}
	if n := f.hv.Domain(testGuest).Open(); n != 0 {
		t.Errorf("guest still has %d grants or ports", n)
	}
	if n := f.hv.Domain(0).Open(); n != 0 {
		t.Errorf("host still has %d mappings or ports", n)
	}

	var rep report
	for _, line := range strings.Split(out.String(), "\n") {
		if j, ok := strings.CutPrefix(line, "VCHANBENCH_RESULT "); ok {
			if err := json.Unmarshal([]byte(j), &rep); err != nil {
				t.Fatal(err)
			}
		}
	}
	if rep.Failed != 0 || len(rep.Checks) != 2*6 {
		t.Errorf("report: %d failed, %d checks: %+v", rep.Failed, len(rep.Checks), rep.Checks)
	}
	if len(rep.Bench) != 2 || rep.Bench[0].Pair != "go>go-2K" || rep.Bench[1].Pair != "go>go-64K" {
		t.Fatalf("bench: %+v", rep.Bench)
	}
	for _, b := range rep.Bench {
		if b.Err != "" || b.H2GMiBps <= 0 || b.G2HMiBps <= 0 || b.RPCP50us <= 0 || b.RawP50us <= 0 {
			t.Errorf("bench %+v", b)
		}
	}
	if rep.Cleanup == nil || len(rep.Cleanup.GuestLeft) != 0 {
		t.Errorf("cleanup: %+v", rep.Cleanup)
	}
}

// TestServiceProtocol drives the service directly over a socket pair.
func TestServiceProtocol(t *testing.T) {
	s := newService(t.Logf)
	a, b := net.Pipe()
	done := make(chan struct{})
	go func() { s.serve(b); close(done) }()
	r := bufio.NewReader(a)
	say := func(line string) {
		if _, err := a.Write([]byte(line + "\n")); err != nil {
			t.Fatal(err)
		}
	}
	say("frobnicate")
	if _, err := okFields(r); err == nil || !strings.Contains(err.Error(), "unknown command") {
		t.Fatalf("unknown command: %v", err)
	}
	say("sink 3")
	if _, err := okFields(r); err == nil || !strings.Contains(err.Error(), "wants 2 arguments") {
		t.Fatalf("bad arity: %v", err)
	}
	say("source 1000 7 1")
	got := make([]byte, 1000)
	if err := readN(r, 1000, nil, got); err != nil {
		t.Fatal(err)
	}
	f, err := okFields(r)
	if err != nil || len(f) != 1 || f[0] != streamSum(7, 1000) {
		t.Fatalf("source trailer %v, %v", f, err)
	}
	want := make([]byte, 1000)
	stream(7).Read(want)
	if !bytes.Equal(got, want) {
		t.Fatal("source stream differs from stream(7)")
	}
	say("info")
	if _, err := okFields(r); err != nil {
		t.Fatal(err)
	}
	a.Close()
	<-done
}

// TestEOFSinkResult: eofsink files what it read for a later result.
func TestEOFSinkResult(t *testing.T) {
	s := newService(t.Logf)
	a, b := net.Pipe()
	go s.serve(b)
	go func() {
		a.Write([]byte("eofsink x\n"))
		writeN(a, 5000, 3, nil, make([]byte, 1024))
		a.Close()
	}()
	c, d := net.Pipe()
	go s.serve(d)
	c.Write([]byte("result x\n"))
	f, err := okFields(bufio.NewReader(c))
	c.Close()
	if err != nil || len(f) != 2 || f[0] != "5000" {
		t.Fatalf("result: %v, %v", f, err)
	}
}

func TestRingNames(t *testing.T) {
	for size, want := range map[int]string{0: "2K", 2048: "2K", 65536: "64K", 1 << 20: "1M"} {
		if got := ringName(size); got != want {
			t.Errorf("ringName(%d) = %q, want %q", size, got, want)
		}
	}
	if cmpEndpoint("go-64K", "go-2K") <= 0 || cmpEndpoint("c", "go-1M") <= 0 || cmpEndpoint("go-1M", "go-64K") <= 0 {
		t.Error("endpoint order")
	}
}

func TestMedianResult(t *testing.T) {
	rs := []benchResult{
		{Pair: "p", H2GMiBps: 1, RawP50us: 30, RawN: 10},
		{Pair: "p", Err: "boom"},
		{Pair: "p", H2GMiBps: 5, RawP50us: 10, RawN: 10},
		{Pair: "p", H2GMiBps: 3, RawP50us: 20, RawN: 10},
	}
	m := medianResult(rs)
	if m.H2GMiBps != 3 || m.RawP50us != 20 || m.RawN != 30 || m.Rounds != 3 || m.Err != "" || !strings.Contains(m.Note, "boom") {
		t.Fatalf("median %+v", m)
	}
	if m := medianResult(rs[1:2]); m.Err != "boom" {
		t.Fatalf("all failed: %+v", m)
	}
}
