package xen

import (
	"errors"
	"strings"
	"testing"
)

func validConfig() DomainConfig {
	return DomainConfig{
		Name:      "runxen-abc",
		Kernel:    "/lab/payload/bin/guest/vmlinuz",
		Initramfs: "/lab/payload/bin/guest/agent.initramfs",
		Cmdline:   "console=hvc0 quiet",
		MemoryMiB: 256,
		VCPUs:     1,
	}
}

func TestValidate(t *testing.T) {
	if err := validConfig().Validate(); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	cases := []struct {
		name string
		edit func(*DomainConfig)
		want string
	}{
		{"empty name", func(c *DomainConfig) { c.Name = "" }, "1 to 64"},
		{"long name", func(c *DomainConfig) { c.Name = strings.Repeat("a", 65) }, "1 to 64"},
		{"quote in name", func(c *DomainConfig) { c.Name = `a"b` }, "outside"},
		{"newline in name", func(c *DomainConfig) { c.Name = "a\nkernel=x" }, "outside"},
		{"space in name", func(c *DomainConfig) { c.Name = "a b" }, "outside"},
		{"digits name", func(c *DomainConfig) { c.Name = "12" }, "all digits"},
		{"no kernel", func(c *DomainConfig) { c.Kernel = "" }, "kernel path is empty"},
		{"relative kernel", func(c *DomainConfig) { c.Kernel = "vmlinuz" }, "not absolute"},
		{"newline in kernel", func(c *DomainConfig) { c.Kernel = "/k\nmemory=9" }, "control"},
		{"relative initramfs", func(c *DomainConfig) { c.Initramfs = "x" }, "not absolute"},
		{"newline in cmdline", func(c *DomainConfig) { c.Cmdline = "quiet\nmemory=99999" }, "control"},
		{"NUL in cmdline", func(c *DomainConfig) { c.Cmdline = "a\x00b" }, "control"},
		{"non-ASCII cmdline", func(c *DomainConfig) { c.Cmdline = "é" }, "non-ASCII"},
		{"long cmdline", func(c *DomainConfig) { c.Cmdline = strings.Repeat("a", 1024) }, "1024 bytes"},
		{"small memory", func(c *DomainConfig) { c.MemoryMiB = 8 }, "memory"},
		{"huge memory", func(c *DomainConfig) { c.MemoryMiB = 1<<20 + 1 }, "memory"},
		{"no vcpus", func(c *DomainConfig) { c.VCPUs = 0 }, "vcpus"},
		{"many vcpus", func(c *DomainConfig) { c.VCPUs = 129 }, "vcpus"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := validConfig()
			tc.edit(&c)
			err := c.Validate()
			if err == nil {
				t.Fatalf("Validate accepted %+v", c)
			}
			if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q: want ErrInvalidConfig mentioning %q", err, tc.want)
			}
		})
	}
	c := validConfig()
	c.Initramfs = ""
	if err := c.Validate(); err != nil {
		t.Errorf("no initramfs: %v", err)
	}
}

func TestXLConfig(t *testing.T) {
	c := validConfig()
	c.Cmdline = `console=hvc0 runxen.x="a b" back\slash`
	got := c.xlConfig()
	want := `name = "runxen-abc"
type = "pv"
kernel = "/lab/payload/bin/guest/vmlinuz"
ramdisk = "/lab/payload/bin/guest/agent.initramfs"
cmdline = "console=hvc0 runxen.x=\"a b\" back\\slash"
memory = 256
maxmem = 256
vcpus = 1
`
	if got != want {
		t.Fatalf("xl config:\n%s\nwant:\n%s", got, want)
	}
	c.Initramfs = ""
	if strings.Contains(c.xlConfig(), "ramdisk") {
		t.Errorf("config without initramfs names a ramdisk:\n%s", c.xlConfig())
	}
}

// unquote is libxlu's dequoting of a double-quoted string, for checking
// xlQuote against it.
func unquote(t *testing.T, q string) string {
	t.Helper()
	if len(q) < 2 || q[0] != '"' || q[len(q)-1] != '"' {
		t.Fatalf("%q is not double-quoted", q)
	}
	var b strings.Builder
	for i := 1; i < len(q)-1; i++ {
		c := q[i]
		switch {
		case c == '\\':
			i++
			if i == len(q)-1 {
				t.Fatalf("%q ends in a lone backslash", q)
			}
			b.WriteByte(q[i])
		case c == '"':
			t.Fatalf("%q has an unescaped quote inside", q)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func FuzzXLQuote(f *testing.F) {
	for _, s := range []string{"", `"`, `\`, `a"b\c`, `\"`, "console=hvc0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c := validConfig()
		c.Cmdline = s
		if c.Validate() != nil {
			return
		}
		q := xlQuote(s)
		if got := unquote(t, q); got != s {
			t.Fatalf("xlQuote(%q) = %s, which reads back as %q", s, q, got)
		}
		// One setting per line, and only ours.
		lines := strings.Split(strings.TrimSuffix(c.xlConfig(), "\n"), "\n")
		if len(lines) != 8 {
			t.Fatalf("config for cmdline %q has %d lines", s, len(lines))
		}
	})
}
