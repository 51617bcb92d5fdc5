package sysinit

import (
	"slices"
	"testing"
)

func TestParseCmdline(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"console=hvc0 quiet\n", []string{"console=hvc0", "quiet"}},
		{`runxen.dom0test="quoted \ value" runxen.log=debug`, []string{`runxen.dom0test=quoted \ value`, "runxen.log=debug"}},
		{`  a   "b c"d  `, []string{"a", "b cd"}},
		{`x=""`, []string{"x="}},
		{"", nil},
		{`"unterminated quote`, []string{"unterminated quote"}},
	}
	for _, tt := range tests {
		if got := ParseCmdline(tt.in); !slices.Equal(got, tt.want) {
			t.Errorf("ParseCmdline(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestCmdlineValue(t *testing.T) {
	p := ParseCmdline("runxen.log=info quiet runxen.log=debug flag")
	if v, ok := CmdlineValue(p, "runxen.log"); !ok || v != "debug" {
		t.Errorf("runxen.log = %q, %v; the last one wins", v, ok)
	}
	if v, ok := CmdlineValue(p, "flag"); !ok || v != "" {
		t.Errorf("flag = %q, %v", v, ok)
	}
	if _, ok := CmdlineValue(p, "runxen"); ok {
		t.Error("a prefix matched")
	}
}
