package xen

import (
	"errors"
	"strings"
	"testing"
)

func TestXLResize(t *testing.T) {
	capOf := func(n int) *int { return &n }
	tests := []struct {
		name string
		r    Resources
		want string // the xl commands after the list Create ran
	}{
		{name: "nothing", r: Resources{}, want: ""},
		// The fake lists every domain with 128 MiB.
		{name: "grow memory: ceiling first", r: Resources{MemoryMiB: 512}, want: "list; mem-max 1 512m; mem-set 1 512m"},
		{name: "shrink memory: target first", r: Resources{MemoryMiB: 64}, want: "list; mem-set 1 64m; mem-max 1 64m"},
		{name: "vcpus", r: Resources{VCPUs: 3}, want: "vcpu-set 1 3"},
		{name: "weight and cap", r: Resources{CPUWeight: 512, CPUCap: capOf(0)}, want: "sched-credit2 -d 1 -w 512 -c 0"},
		{name: "cap only", r: Resources{CPUCap: capOf(250)}, want: "sched-credit2 -d 1 -c 250"},
		{name: "affinity", r: Resources{CPUAffinity: "2-3"}, want: "vcpu-pin 1 all 2-3"},
		{
			name: "everything, in order",
			r:    Resources{MemoryMiB: 256, VCPUs: 2, CPUWeight: 100, CPUAffinity: "0"},
			want: "list; mem-max 1 256m; mem-set 1 256m; vcpu-set 1 2; sched-credit2 -d 1 -w 100; vcpu-pin 1 all 0",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x, f := newTestXL(t, nil)
			ctx := ctxT(t)
			id, err := x.Create(ctx, validConfig())
			if err != nil {
				t.Fatal(err)
			}
			before := len(f.calls)
			if err := x.Resize(ctx, id, tt.r); err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(f.calls[before:], "; "); got != tt.want {
				t.Fatalf("xl calls %q; want %q", got, tt.want)
			}
		})
	}
}

func TestXLResizeErrors(t *testing.T) {
	x, f := newTestXL(t, nil)
	ctx := ctxT(t)
	if err := x.Resize(ctx, 0, Resources{VCPUs: 1}); err == nil {
		t.Error("Resize of domain 0 succeeded")
	}
	if err := x.Resize(ctx, 7, Resources{MemoryMiB: 1}); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("Resize with 1 MiB: %v", err)
	}
	if err := x.Resize(ctx, 7, Resources{VCPUs: 1}); !errors.Is(err, ErrNoDomain) {
		t.Errorf("Resize of a missing domain: %v; want ErrNoDomain", err)
	}
	id, err := x.Create(ctx, validConfig())
	if err != nil {
		t.Fatal(err)
	}
	f.failOn["vcpu-set"] = errors.New("exit status 1: vcpu-set: requested 9 > max 1")
	if err := x.Resize(ctx, id, Resources{VCPUs: 9}); err == nil || !strings.Contains(err.Error(), "requested 9") {
		t.Errorf("failed vcpu-set: %v", err)
	}
}
