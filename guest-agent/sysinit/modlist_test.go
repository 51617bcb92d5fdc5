package sysinit

import (
	"slices"
	"testing"
)

func TestParseModuleList(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"/lib/modules/v/a.ko\n/lib/modules/v/b.ko\n", []string{"/lib/modules/v/a.ko", "/lib/modules/v/b.ko"}},
		{"# header\n\n  /a.ko  \r\n#/b.ko\n/c.ko", []string{"/a.ko", "/c.ko"}},
		{"", nil},
	}
	for _, tt := range tests {
		if got := parseModuleList(tt.in); !slices.Equal(got, tt.want) {
			t.Errorf("parseModuleList(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
