package vchantest_test

import (
	"strings"
	"testing"

	"github.com/runxen/runxen/runtime/vchan/vchantest"
)

func TestHostAddGuest(t *testing.T) {
	h := vchantest.NewHost(t)
	g := h.AddGuest(7)
	if g.ID != 7 || g.Devices.ID() != 7 || h.Dom0.Devices.ID() != 0 {
		t.Fatalf("endpoint ids: guest %d, devices %d, dom0 devices %d", g.ID, g.Devices.ID(), h.Dom0.Devices.ID())
	}
	if again := h.Connect(7); again != g {
		t.Error("Connect(7) after AddGuest(7) opened a second connection")
	}
	if h.Connect(0) != h.Dom0 {
		t.Error("Connect(0) is not Dom0")
	}
	for path, want := range map[string]string{
		"/local/domain/7":        "n0 r7",
		"/local/domain/7/device": "n0 r7",
		"/local/domain/7/data":   "n7",
		"/local/domain/7/error":  "n7",
	} {
		if got := strings.Join(h.Xenstored.Permissions(path), " "); got != want {
			t.Errorf("%s permissions %q, want %q", path, got, want)
		}
	}
	for path, want := range map[string]string{"/local/domain/0/domid": "0", "/local/domain/7/domid": "7"} {
		if v, ok := h.Xenstored.Read(path); !ok || string(v) != want {
			t.Errorf("%s = %q, %v; want %q", path, v, ok, want)
		}
	}

	// Each endpoint sees xenstore with its own rights.
	ctx := vchantest.Context(t)
	for _, c := range []struct {
		who   *vchantest.Endpoint
		path  string
		allow bool
	}{
		{g, "/local/domain/7/data/x", true},
		{g, "/local/domain/7/error/x", true},
		{g, "/local/domain/7/x", false},
		{g, "/local/domain/7/device/x", false},
		{g, "/local/domain/0/x", false},
		{h.Dom0, "/local/domain/7/x", true},
	} {
		err := c.who.Store.Write(ctx, c.path, []byte("v"))
		if (err == nil) != c.allow {
			t.Errorf("domain %d writing %s: %v, want allowed %v", c.who.ID, c.path, err, c.allow)
		}
	}
	if ok, err := h.Dom0.Store.IsIntroduced(ctx, 7); err != nil || !ok {
		t.Errorf("domain 7 introduced: %v, %v", ok, err)
	}
}

func TestHostConnectWithoutLayout(t *testing.T) {
	h := vchantest.NewHost(t)
	g := h.Connect(3) // a domain some other fake laid out, or none did
	if g.ID != 3 || g.Store == nil || g.Devices.ID() != 3 {
		t.Fatalf("Connect(3) = %+v", g)
	}
	if _, ok := h.Xenstored.Read("/local/domain/3"); ok {
		t.Error("Connect wrote the domain's directory")
	}
}
