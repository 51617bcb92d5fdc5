package stdio

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
)

func TestParseTarget(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Target
		err  error
	}{
		{"", Target{Kind: None}, nil},
		{"/run/containerd/fifo/123/c1-stdout", Target{Kind: FIFO, Path: "/run/containerd/fifo/123/c1-stdout"}, nil},
		{"fifo:///a/b", Target{Kind: FIFO, Path: "/a/b"}, nil},
		{"file:///var/log/c1.log", Target{Kind: File, Path: "/var/log/c1.log"}, nil},
		{"binary:///usr/local/bin/nerdctl?_NERDCTL_INTERNAL_LOGGING=/var/lib/nerdctl/1935db59", Target{
			Kind: Binary, Path: "/usr/local/bin/nerdctl", Args: []string{"_NERDCTL_INTERNAL_LOGGING", "/var/lib/nerdctl/1935db59"},
		}, nil},
		{"binary:///bin/logger?b=2&a=1&flag", Target{Kind: Binary, Path: "/bin/logger", Args: []string{"a", "1", "b", "2", "flag"}}, nil},
		{"relative/path", Target{}, errdefs.ErrInvalidArgument},
		{"file://host/x", Target{}, errdefs.ErrInvalidArgument},
		{"file:///x?y=1", Target{}, errdefs.ErrInvalidArgument},
		{"binary://relative", Target{}, errdefs.ErrInvalidArgument},
		{"syslog:///dev/log", Target{}, errdefs.ErrNotImplemented},
		{"/a\x00b", Target{}, errdefs.ErrInvalidArgument},
		{"/" + strings.Repeat("a", maxURILen), Target{}, errdefs.ErrInvalidArgument},
	} {
		got, err := ParseTarget(tc.in)
		if tc.err != nil {
			if !errors.Is(err, tc.err) {
				t.Errorf("ParseTarget(%.40q): %v, want %v", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || got.Kind != tc.want.Kind || got.Path != tc.want.Path || !slices.Equal(got.Args, tc.want.Args) {
			t.Errorf("ParseTarget(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
}

// FuzzParseTarget: a stdio value from containerd's client is taken as an
// absolute path of a known kind, or refused with an errdefs class.
func FuzzParseTarget(f *testing.F) {
	for _, s := range []string{"/a", "file:///x", "binary:///b?x=y", "fifo:///c", "x://", "%zz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseTarget(s)
		if err != nil {
			if !errdefs.IsInvalidArgument(err) && !errdefs.IsNotImplemented(err) {
				t.Fatalf("ParseTarget(%q): unclassified %v", s, err)
			}
			return
		}
		if s == "" {
			if got.Kind != None {
				t.Fatalf("empty: %+v", got)
			}
			return
		}
		if !strings.HasPrefix(got.Path, "/") || strings.ContainsRune(got.Path, 0) {
			t.Fatalf("ParseTarget(%q) = %+v: not an absolute path", s, got)
		}
		if got.Kind != Binary && len(got.Args) > 0 {
			t.Fatalf("ParseTarget(%q) = %+v: arguments for a %s", s, got, got.Kind)
		}
	})
}
