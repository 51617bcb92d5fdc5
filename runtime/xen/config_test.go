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
		{"maxvcpus below vcpus", func(c *DomainConfig) { c.VCPUs, c.MaxVCPUs = 4, 2 }, "maxvcpus 2"},
		{"maxvcpus too many", func(c *DomainConfig) { c.MaxVCPUs = 129 }, "maxvcpus"},
		{"negative weight", func(c *DomainConfig) { c.CPUWeight = -1 }, "cpu weight"},
		{"huge weight", func(c *DomainConfig) { c.CPUWeight = 65536 }, "cpu weight"},
		{"cap beyond the vCPUs", func(c *DomainConfig) { c.CPUCap = 101 }, "cpu cap 101%"},
		{"negative cap", func(c *DomainConfig) { c.CPUCap = -5 }, "cpu cap"},
		{"affinity with a newline", func(c *DomainConfig) { c.CPUAffinity = "0\ncap=1" }, "cpu affinity"},
		{"affinity backwards", func(c *DomainConfig) { c.CPUAffinity = "3-1" }, "backwards"},
		{"affinity empty part", func(c *DomainConfig) { c.CPUAffinity = "1,,2" }, "not a CPU number"},
		{"affinity beyond", func(c *DomainConfig) { c.CPUAffinity = "8192" }, "beyond"},
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

func TestXLConfigScheduling(t *testing.T) {
	c := validConfig()
	c.VCPUs, c.MaxVCPUs, c.CPUWeight, c.CPUCap, c.CPUAffinity = 2, 4, 128, 150, "0-3,6"
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	want := `name = "runxen-abc"
type = "pv"
kernel = "/lab/payload/bin/guest/vmlinuz"
ramdisk = "/lab/payload/bin/guest/agent.initramfs"
cmdline = "console=hvc0 quiet"
memory = 256
maxmem = 256
vcpus = 2
maxvcpus = 4
cpu_weight = 128
cap = 150
cpus = "0-3,6"
`
	if got := c.xlConfig(); got != want {
		t.Fatalf("xl config:\n%s\nwant:\n%s", got, want)
	}
}

func TestResourcesValidate(t *testing.T) {
	capOf := func(n int) *int { return &n }
	for _, r := range []Resources{{}, {MemoryMiB: 16}, {VCPUs: 128}, {CPUWeight: 1, CPUCap: capOf(0)}, {CPUAffinity: "0,2-3"}} {
		if err := r.Validate(); err != nil {
			t.Errorf("%+v: %v", r, err)
		}
	}
	for _, r := range []Resources{{MemoryMiB: 15}, {MemoryMiB: -1}, {VCPUs: 129}, {VCPUs: -1}, {CPUWeight: 70000}, {CPUCap: capOf(-1)}, {CPUAffinity: "x"}} {
		if err := r.Validate(); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%+v: %v; want ErrInvalidConfig", r, err)
		}
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
