package xentest

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/runxen/runxen/runtime/xen"
	"github.com/runxen/runxen/runtime/xenstore"
	"github.com/runxen/runxen/runtime/xenstore/xenstoretest"
)

func cfg(name string) xen.DomainConfig {
	return xen.DomainConfig{Name: name, Kernel: "/k", Initramfs: "/i", MemoryMiB: 128, VCPUs: 1}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestLifecycle(t *testing.T) {
	ts := New()
	ctx := ctxT(t)
	id, err := ts.Create(ctx, cfg("a"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ts.Create(ctx, cfg("a")); err == nil {
		t.Fatal("second domain with the same name was created")
	}
	if _, err := ts.Create(ctx, cfg("bad name")); !errors.Is(err, xen.ErrInvalidConfig) {
		t.Fatalf("invalid config: %v", err)
	}
	info, err := ts.Info(ctx, id)
	if err != nil || info.State != xen.StatePaused || info.MemoryMiB != 128 || info.VCPUs != 1 || info.Name != "a" {
		t.Fatalf("Info = %+v, %v", info, err)
	}
	if err := ts.Pause(ctx, id); err != nil {
		t.Fatalf("pausing a paused domain: %v", err)
	}
	if err := ts.Unpause(ctx, id); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Millisecond)
	if info, _ := ts.Info(ctx, id); info.State != xen.StateRunning || info.CPUTime <= 0 {
		t.Fatalf("running domain: %+v", info)
	}
	if err := ts.Shutdown(id, xen.ReasonPoweroff); err != nil {
		t.Fatal(err)
	}
	if err := ts.Unpause(ctx, id); err == nil || !strings.Contains(err.Error(), "shutdown") {
		t.Fatalf("Unpause of a shut down domain: %v", err)
	}
	doms, _ := ts.List(ctx)
	if len(doms) != 2 || doms[0].ID != 0 || doms[1].State != xen.StateShutdown {
		t.Fatalf("List = %+v", doms)
	}
	if err := ts.Destroy(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, err := ts.Info(ctx, id); !errors.Is(err, xen.ErrNoDomain) {
		t.Fatalf("Info after Destroy: %v", err)
	}
	if err := ts.Destroy(ctx, 0); err == nil {
		t.Fatal("destroyed Domain-0")
	}
	id2, _ := ts.Create(ctx, cfg("a"))
	if id2 == id {
		t.Fatalf("domain ID %d reused at once", id)
	}
	if got := strings.Join(ts.Calls(), ","); !strings.HasPrefix(got, "create a,create a,info 1,pause 1,unpause 1,info 1,unpause 1,list ,destroy 1") {
		t.Fatalf("calls: %s", got)
	}
}

func TestWait(t *testing.T) {
	ts := New()
	ctx := ctxT(t)
	id, _ := ts.Create(ctx, cfg("a"))
	done := make(chan xen.DomainInfo, 1)
	go func() {
		info, err := ts.Wait(ctx, id)
		if err != nil {
			t.Error(err)
		}
		done <- info
	}()
	_ = ts.Unpause(ctx, id)
	_ = ts.Pause(ctx, id)
	select {
	case info := <-done:
		t.Fatalf("Wait returned for a live domain: %+v", info)
	case <-time.After(20 * time.Millisecond):
	}
	_ = ts.Shutdown(id, xen.ReasonCrash)
	if info := <-done; info.State != xen.StateShutdown || info.Reason != xen.ReasonCrash {
		t.Fatalf("Wait = %+v", info)
	}

	id2, _ := ts.Create(ctx, cfg("b"))
	go func() {
		info, _ := ts.Wait(ctx, id2)
		done <- info
	}()
	_ = ts.Destroy(ctx, id2)
	if info := <-done; info.State != xen.StateGone {
		t.Fatalf("Wait for a destroyed domain = %+v", info)
	}

	id3, _ := ts.Create(ctx, cfg("c"))
	short, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
	defer cancel()
	if _, err := ts.Wait(short, id3); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait with an expiring context: %v", err)
	}
}

func TestFailNext(t *testing.T) {
	ts := New()
	ctx := ctxT(t)
	boom := errors.New("boom")
	ts.FailNext("create", boom)
	if _, err := ts.Create(ctx, cfg("a")); !errors.Is(err, boom) {
		t.Fatalf("Create: %v", err)
	}
	if doms, _ := ts.List(ctx); len(doms) != 1 {
		t.Fatalf("a failed Create left a domain: %+v", doms)
	}
	if _, err := ts.Create(ctx, cfg("a")); err != nil {
		t.Fatalf("the failure was not one-shot: %v", err)
	}
}

func TestXenstoreMirror(t *testing.T) {
	xs := xenstoretest.New()
	defer xs.Close()
	ts := New(WithXenstore(xs))
	ctx := ctxT(t)
	id, err := ts.Create(ctx, cfg("a"))
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := xs.Read("/local/domain/1/name"); !ok || string(v) != "a" {
		t.Fatalf("name node: %q %v", v, ok)
	}
	if p := xs.Permissions("/local/domain/1/data"); len(p) == 0 || p[0] != "n1" {
		t.Fatalf("data/ permissions %v, want the guest to own it", p)
	}

	c := xenstore.NewClient(xs.Conn())
	defer c.Close()
	w, err := c.Watch(ctx, xenstore.ReleaseDomain, "")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	<-w.Events() // the initial event
	_ = ts.Shutdown(id, xen.ReasonPoweroff)
	<-w.Events()
	_ = ts.Destroy(ctx, id)
	<-w.Events()
	if xs.Exists("/local/domain/1") {
		t.Fatal("/local/domain/1 survived Destroy")
	}
}

func TestResize(t *testing.T) {
	ts := New()
	ctx := ctxT(t)
	c := cfg("r")
	c.VCPUs, c.MaxVCPUs = 1, 4
	id, err := ts.Create(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	capOf := func(n int) *int { return &n }
	if err := ts.Resize(ctx, id, xen.Resources{MemoryMiB: 300, VCPUs: 3, CPUWeight: 64, CPUCap: capOf(200), CPUAffinity: "0-1"}); err != nil {
		t.Fatal(err)
	}
	info, _ := ts.Info(ctx, id)
	got, _ := ts.Config(id)
	if info.MemoryMiB != 300 || info.VCPUs != 3 || got.CPUWeight != 64 || got.CPUCap != 200 || got.CPUAffinity != "0-1" {
		t.Fatalf("after Resize: %+v, %+v", info, got)
	}
	if err := ts.Resize(ctx, id, xen.Resources{CPUCap: capOf(0)}); err != nil {
		t.Fatal(err)
	}
	if got, _ := ts.Config(id); got.CPUCap != 0 || got.CPUWeight != 64 || got.MemoryMiB != 300 {
		t.Fatalf("cap removal changed more: %+v", got)
	}
	if err := ts.Resize(ctx, id, xen.Resources{VCPUs: 5}); err == nil {
		t.Fatal("Resize beyond maxvcpus succeeded")
	}
	if err := ts.Resize(ctx, id, xen.Resources{MemoryMiB: 1}); !errors.Is(err, xen.ErrInvalidConfig) {
		t.Fatalf("Resize to 1 MiB: %v", err)
	}
	ts.FailNext("resize", errors.New("injected"))
	if err := ts.Resize(ctx, id, xen.Resources{VCPUs: 2}); err == nil {
		t.Fatal("injected failure ignored")
	}
	if info, _ := ts.Info(ctx, id); info.VCPUs != 3 {
		t.Fatalf("a failed Resize changed the domain: %+v", info)
	}
	if err := ts.Shutdown(id, xen.ReasonPoweroff); err != nil {
		t.Fatal(err)
	}
	if err := ts.Resize(ctx, id, xen.Resources{VCPUs: 2}); err == nil {
		t.Fatal("Resize of a shut-down domain succeeded")
	}
	if err := ts.Resize(ctx, 99, xen.Resources{VCPUs: 2}); !errors.Is(err, xen.ErrNoDomain) {
		t.Fatalf("Resize of a missing domain: %v", err)
	}
}
