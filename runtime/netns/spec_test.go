package netns

import (
	"errors"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func specWith(ns ...specs.LinuxNamespace) *specs.Spec {
	return &specs.Spec{Linux: &specs.Linux{Namespaces: ns}}
}

func TestPlanFor(t *testing.T) {
	net := specs.NetworkNamespace
	for _, tc := range []struct {
		name    string
		spec    *specs.Spec
		want    Plan
		wantErr string
	}{
		{name: "nil spec", spec: nil, want: Plan{Mode: ModeHost}},
		{name: "no linux section", spec: &specs.Spec{}, want: Plan{Mode: ModeHost}},
		{name: "no network entry", spec: specWith(specs.LinuxNamespace{Type: specs.PIDNamespace}), want: Plan{Mode: ModeHost}},
		{name: "network without path", spec: specWith(
			specs.LinuxNamespace{Type: specs.MountNamespace},
			specs.LinuxNamespace{Type: net}), want: Plan{Mode: ModeCreate}},
		{name: "network with path", spec: specWith(specs.LinuxNamespace{Type: net, Path: "/var/run/netns/cni-1"}),
			want: Plan{Mode: ModeJoin, Path: "/var/run/netns/cni-1"}},
		{name: "path cleaned", spec: specWith(specs.LinuxNamespace{Type: net, Path: "/proc//42/ns/../ns/net"}),
			want: Plan{Mode: ModeJoin, Path: "/proc/42/ns/net"}},
		{name: "other namespace paths ignored", spec: specWith(
			specs.LinuxNamespace{Type: specs.IPCNamespace, Path: "relative/ipc"},
			specs.LinuxNamespace{Type: net}), want: Plan{Mode: ModeCreate}},
		{name: "relative path", spec: specWith(specs.LinuxNamespace{Type: net, Path: "netns/x"}),
			wantErr: `linux.namespaces[0].path "netns/x": not an absolute path`},
		{name: "two network entries", spec: specWith(
			specs.LinuxNamespace{Type: net},
			specs.LinuxNamespace{Type: specs.UTSNamespace},
			specs.LinuxNamespace{Type: net, Path: "/run/netns/a"}),
			wantErr: "linux.namespaces[2]: a second network namespace entry (the first is linux.namespaces[0])"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := PlanFor(tc.spec)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("PlanFor: err %v, want one containing %q", err, tc.wantErr)
				}
				if !errors.Is(err, errdefs.ErrInvalidArgument) {
					t.Errorf("PlanFor: err %v is not ErrInvalidArgument", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("PlanFor: %v", err)
			}
			if got != tc.want {
				t.Errorf("PlanFor = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestModeString(t *testing.T) {
	for m, want := range map[Mode]string{ModeHost: "host", ModeCreate: "create", ModeJoin: "join", Mode(9): "Mode(9)"} {
		if got := m.String(); got != want {
			t.Errorf("Mode(%d).String() = %q, want %q", int(m), got, want)
		}
	}
}

func TestCheckID(t *testing.T) {
	for _, tc := range []struct {
		id string
		ok bool
	}{
		{"c1", true},
		{strings.Repeat("a", 64), true},
		{"with space and = sign", true},
		{"", false},
		{strings.Repeat("a", maxIDLen+1), false},
		{"new\nline", false},
		{"nul\x00", false},
		{"del\x7f", false},
	} {
		err := checkID(tc.id)
		if (err == nil) != tc.ok {
			t.Errorf("checkID(%q) = %v, want ok=%v", tc.id, err, tc.ok)
		}
		if err != nil && !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("checkID(%q) = %v, not ErrInvalidArgument", tc.id, err)
		}
	}
}
