package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestDefaultIsValid(t *testing.T) {
	if err := Default().Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want func(*Config) // applied to Default(); nil when an error is expected
		errs []string      // substrings the error must contain
	}{
		{name: "empty file keeps every default", doc: "", want: func(*Config) {}},
		{name: "comments only", doc: "# nothing\n\n", want: func(*Config) {}},
		{
			name: "every table",
			doc: `log_level = "debug"
state_dir = "/var/run/rx"
[guest]
kernel = "/boot/vmlinuz-guest"
initramfs = "/srv/agent.img"
kernel_params = "quiet loglevel=3"
memory_mib = 1024
vcpus = 2
memory_overhead_mib = 96
memory_overhead_percent = 3
min_memory_mib = 32
[timeouts]
boot = "5m"
agent_call = "1m30s"
destroy = "45s"
[xen]
xl = "/usr/sbin/xl"
[shares]
msize = 131072
cache = "none"
[shares.io_limits]
read_bytes_per_sec = 10485760
write_ops_per_sec = 200
`,
			want: func(c *Config) {
				c.LogLevel, c.StateDir = "debug", "/var/run/rx"
				c.Guest = Guest{Kernel: "/boot/vmlinuz-guest", Initramfs: "/srv/agent.img", KernelParams: "quiet loglevel=3",
					MemoryMiB: 1024, VCPUs: 2, MemoryOverheadMiB: 96, MemoryOverheadPercent: 3, MinMemoryMiB: 32}
				c.Timeouts = Timeouts{Boot: Duration{Duration: 5 * time.Minute}, AgentCall: Seconds(90), Destroy: Seconds(45)}
				c.Xen.XL = "/usr/sbin/xl"
				c.Shares.Msize, c.Shares.Cache = 131072, "none"
				c.Shares.IOLimits = IOLimits{ReadBytesPerSec: 10 << 20, WriteOpsPerSec: 200}
			},
		},
		{
			name: "dotted keys",
			doc:  "guest.vcpus = 4\nshares.io_limits.read_ops_per_sec = 7\n",
			want: func(c *Config) { c.Guest.VCPUs = 4; c.Shares.IOLimits.ReadOpsPerSec = 7 },
		},
		{name: "unknown top-level key", doc: "log_levle = \"debug\"\n", errs: []string{"unknown key log_levle (line 1)"}},
		{name: "unknown key in a table", doc: "[guest]\nkernal = \"/k\"\n", errs: []string{"unknown key guest.kernal (line 2)"}},
		{name: "unknown table", doc: "[network]\nbridge = \"xenbr0\"\n", errs: []string{"unknown key network"}},
		{
			name: "every unknown key is named",
			doc:  "[guest]\nmemory = 5\n[shares]\nmsize_kib = 4\n",
			errs: []string{"unknown key guest.memory (line 2)", "unknown key shares.msize_kib (line 4)"},
		},
		{name: "wrong type", doc: "[guest]\nmemory_mib = \"512\"\n", errs: []string{"guest.memory_mib (line 2)"}},
		{name: "bare number for a duration", doc: "[timeouts]\nboot = 30\n", errs: []string{`timeouts.boot: "30" is not a duration`}},
		{name: "bad duration", doc: "[timeouts]\nagent_call = \"soon\"\n", errs: []string{`timeouts.agent_call: "soon" is not a duration`}},
		{name: "tiny timeout", doc: "[timeouts]\nboot = \"30ns\"\n", errs: []string{"timeouts.boot: 30ns is outside"}},
		{name: "negative timeout", doc: "[timeouts]\ndestroy = \"-1s\"\n", errs: []string{"timeouts.destroy"}},
		{name: "syntax error", doc: "[guest\n", errs: []string{"line 1"}},
		{name: "bad log level", doc: "log_level = \"verbose\"\n", errs: []string{"log_level: \"verbose\" is not one of"}},
		{name: "relative kernel", doc: "[guest]\nkernel = \"vmlinuz\"\n", errs: []string{"guest.kernel: \"vmlinuz\" is not an absolute path"}},
		{name: "empty initramfs", doc: "[guest]\ninitramfs = \"\"\n", errs: []string{"guest.initramfs: is empty"}},
		{name: "control character in a path", doc: "state_dir = \"/run/a\\nb\"\n", errs: []string{"state_dir", "control"}},
		{name: "kernel params with a newline", doc: "[guest]\nkernel_params = \"a\\nb\"\n", errs: []string{"guest.kernel_params"}},
		{name: "kernel params too long", doc: "[guest]\nkernel_params = \"" + strings.Repeat("x", 600) + "\"\n", errs: []string{"guest.kernel_params: is 600 bytes"}},
		{name: "zero vcpus", doc: "[guest]\nvcpus = 0\n", errs: []string{"guest.vcpus: 0 is outside [1, 128]"}},
		{name: "too many vcpus", doc: "[guest]\nvcpus = 129\n", errs: []string{"guest.vcpus"}},
		{name: "memory below the minimum", doc: "[guest]\nmemory_mib = 8\n", errs: []string{"guest.memory_mib: 8 is outside [guest.min_memory_mib = 16"}},
		{name: "negative overhead", doc: "[guest]\nmemory_overhead_mib = -1\n", errs: []string{"guest.memory_overhead_mib"}},
		{name: "overhead percent beyond 100", doc: "[guest]\nmemory_overhead_percent = 101\n", errs: []string{"guest.memory_overhead_percent: 101 is outside [0, 100]"}},
		{name: "default memory too big with its overhead", doc: "[guest]\nmemory_mib = 1048000\n", errs: []string{"guest.memory_mib: 1048000 with the overhead makes a"}},
		{
			name: "domain below Xen's minimum",
			doc:  "[guest]\nmin_memory_mib = 4\nmemory_overhead_mib = 0\n",
			errs: []string{"guest.min_memory_mib: with guest.memory_overhead_mib, a domain would have 4 MiB"},
		},
		{name: "number too large", doc: "[guest]\nmemory_mib = 99999999999999999999\n", errs: []string{"guest.memory_mib (line 2)"}},
		{name: "negative I/O limit", doc: "[shares.io_limits]\nread_ops_per_sec = -1\n", errs: []string{"shares.io_limits.read_ops_per_sec"}},
		{name: "relative xl path", doc: "[xen]\nxl = \"bin/xl\"\n", errs: []string{"xen.xl: \"bin/xl\" must be an absolute path"}},
		{name: "msize too small", doc: "[shares]\nmsize = 4096\n", errs: []string{"shares.msize: 4096 is outside [8192, 524288]"}},
		{name: "msize too large", doc: "[shares]\nmsize = 1048576\n", errs: []string{"shares.msize"}},
		{name: "bad cache mode", doc: "[shares]\ncache = \"always\"\n", errs: []string{"shares.cache: \"always\" is not one of none, mmap, loose"}},
		{name: "a cache mode the agent does not mount with", doc: "[shares]\ncache = \"fscache\"\n", errs: []string{"shares.cache"}},
		{
			name: "every bad value is named",
			doc:  "log_level = \"x\"\n[guest]\nvcpus = 0\n[shares]\ncache = \"y\"\n",
			errs: []string{"log_level", "guest.vcpus", "shares.cache"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse([]byte(tt.doc))
			if tt.want == nil {
				if err == nil {
					t.Fatalf("Parse succeeded with %+v; want an error", got)
				}
				if !errors.Is(err, ErrInvalid) {
					t.Errorf("error %q does not wrap ErrInvalid", err)
				}
				for _, s := range tt.errs {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q lacks %q", err, s)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := Default()
			tt.want(&want)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("Parse:\n got %+v\nwant %+v", got, want)
			}
		})
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	write := func(name, doc string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	defaultFile := write("default.toml", "[guest]\nvcpus = 2\n")
	envFile := write("env.toml", "[guest]\nvcpus = 3\n")
	optFile := write("opt.toml", "[guest]\nvcpus = 4\n")
	badFile := write("bad.toml", "[guest]\nvcpu = 4\n")
	missing := filepath.Join(dir, "missing.toml")

	tests := []struct {
		name      string
		def, env  string
		arg       string
		wantVCPUs int
		wantPath  string
		wantErr   string
	}{
		{name: "default path", def: defaultFile, wantVCPUs: 2, wantPath: defaultFile},
		{name: "no file at the default path: built-in defaults", def: missing, wantVCPUs: 1, wantPath: ""},
		{name: "environment beats the default path", def: defaultFile, env: envFile, wantVCPUs: 3, wantPath: envFile},
		{name: "runtime option beats the environment", def: defaultFile, env: envFile, arg: optFile, wantVCPUs: 4, wantPath: optFile},
		{name: "missing file named by the environment", def: defaultFile, env: missing, wantErr: "missing.toml"},
		{name: "missing file named by the runtime option", def: defaultFile, arg: missing, wantErr: "missing.toml"},
		{name: "a bad file names itself and the key", def: badFile, wantErr: "bad.toml: invalid runxen configuration: unknown key guest.vcpu"},
		{name: "a directory", def: dir, wantErr: dir},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old := defaultPath
			defaultPath = tt.def
			t.Cleanup(func() { defaultPath = old })
			t.Setenv(EnvPath, tt.env)
			c, path, err := Load(tt.arg)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Load = %v; want an error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Guest.VCPUs != tt.wantVCPUs || path != tt.wantPath {
				t.Fatalf("Load: vcpus %d from %q; want %d from %q", c.Guest.VCPUs, path, tt.wantVCPUs, tt.wantPath)
			}
		})
	}
}

func TestLoadRefusesHugeFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "huge.toml")
	if err := os.WriteFile(p, []byte(strings.Repeat("#", MaxFileSize+1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Load(p); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("Load = %v; want a size error", err)
	}
}

func TestCmdline(t *testing.T) {
	c := Default()
	if got := c.Cmdline(); got != "console=hvc0 runxen.log=info" {
		t.Errorf("Cmdline = %q", got)
	}
	c.LogLevel, c.Guest.KernelParams = "debug", "  quiet  "
	if got := c.Cmdline(); got != "console=hvc0 runxen.log=debug quiet" {
		t.Errorf("Cmdline = %q", got)
	}
}
