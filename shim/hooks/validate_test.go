//lint:file-ignore SA1019 Docker 26 still sends prestart hooks, so the tests cover them

package hooks

import (
	"errors"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestValidate(t *testing.T) {
	ok := specs.Hook{Path: "/usr/bin/hook", Timeout: timeout(5)}
	for _, tc := range []struct {
		name  string
		hooks *specs.Hooks
		want  []string // substrings, each with its sentinel
		is    []error
	}{
		{name: "none", hooks: nil},
		{name: "empty", hooks: &specs.Hooks{}},
		{name: "host-side kinds", hooks: &specs.Hooks{
			Prestart: []specs.Hook{ok}, CreateRuntime: []specs.Hook{ok}, Poststart: []specs.Hook{ok}, Poststop: []specs.Hook{ok}}},
		{name: "relative path", hooks: &specs.Hooks{CreateRuntime: []specs.Hook{ok, {Path: "hook"}}},
			want: []string{`hooks.createRuntime[1].path "hook": must be an absolute path`}, is: []error{errdefs.ErrInvalidArgument}},
		{name: "empty path", hooks: &specs.Hooks{Poststop: []specs.Hook{{}}},
			want: []string{`hooks.poststop[0].path "": must be an absolute path`}, is: []error{errdefs.ErrInvalidArgument}},
		{name: "bad timeouts", hooks: &specs.Hooks{Prestart: []specs.Hook{{Path: "/a", Timeout: timeout(0)}, {Path: "/b", Timeout: timeout(-3)}}},
			want: []string{"hooks.prestart[0].timeout 0: must be greater than zero", "hooks.prestart[1].timeout -3"},
			is:   []error{errdefs.ErrInvalidArgument}},
		{name: "in-container kinds", hooks: &specs.Hooks{CreateContainer: []specs.Hook{ok}, StartContainer: []specs.Hook{ok, ok}},
			want: []string{"hooks.createContainer: 1 hook(s) that must run in the container's namespaces", "hooks.startContainer: 2 hook(s)"},
			is:   []error{errdefs.ErrNotImplemented}},
		{name: "all problems at once", hooks: &specs.Hooks{Poststart: []specs.Hook{{Path: "x", Timeout: timeout(0)}}, StartContainer: []specs.Hook{ok}},
			want: []string{"hooks.poststart[0].path", "hooks.poststart[0].timeout", "hooks.startContainer"},
			is:   []error{errdefs.ErrInvalidArgument, errdefs.ErrNotImplemented}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Validate(tc.hooks)
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Validate: no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%q lacks %q", err, w)
				}
			}
			for _, is := range tc.is {
				if !errors.Is(err, is) {
					t.Errorf("%v is not %v", err, is)
				}
			}
		})
	}
}

func TestNewState(t *testing.T) {
	ann := map[string]string{"nerdctl/network-namespace": "/run/netns/x"}
	s := NewState("c1", specs.StateRunning, 42, "/run/bundle", ann)
	ann["later"] = "change"
	want := specs.State{Version: specs.Version, ID: "c1", Status: specs.StateRunning, Pid: 42, Bundle: "/run/bundle",
		Annotations: map[string]string{"nerdctl/network-namespace": "/run/netns/x"}}
	if s.Version != want.Version || s.ID != want.ID || s.Status != want.Status || s.Pid != want.Pid || s.Bundle != want.Bundle ||
		len(s.Annotations) != 1 || s.Annotations["nerdctl/network-namespace"] != "/run/netns/x" {
		t.Errorf("NewState = %+v, want %+v", s, want)
	}
}
