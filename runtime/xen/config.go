package xen

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
)

// DomainConfig is the shape of a PV domain.
type DomainConfig struct {
	// Name must be unique among running domains: 1-64 characters from
	// [A-Za-z0-9._-], not all digits.
	Name string
	// Kernel and Initramfs are absolute dom0 paths. Initramfs may be empty.
	Kernel, Initramfs string
	// Cmdline is the guest kernel's command line: printable characters
	// only (no newline or other control character).
	Cmdline string
	// MemoryMiB is the domain's memory, at least MinMemoryMiB.
	MemoryMiB int
	// VCPUs is the number of virtual CPUs online at boot, 1 to MaxVCPUs.
	VCPUs int
	// MaxVCPUs is how many vCPUs Resize may bring online later, VCPUs to
	// MaxVCPUs; 0 means VCPUs. Each possible vCPU costs the guest kernel
	// a little memory (its per-CPU areas).
	MaxVCPUs int

	// Scheduling, all optional.
	//
	// CPUWeight is the scheduler weight, 1 to MaxCPUWeight; 0 leaves Xen's
	// default (256).
	CPUWeight int
	// CPUCap caps the domain's CPU use in percent of one physical CPU
	// (150: one and a half), up to 100 per vCPU; 0 means no cap.
	CPUCap int
	// CPUAffinity names the physical CPUs the vCPUs may run on, in
	// cpuset list syntax ("0-3,6"); "" means any.
	CPUAffinity string
}

// Limits on DomainConfig.
const (
	MaxNameLen   = 64
	MinMemoryMiB = 16
	// MaxMemoryMiB is 1 TiB, far beyond any host runxen runs on; it only
	// keeps the number an int everywhere.
	MaxMemoryMiB = 1 << 20
	MaxVCPUs     = 128
	// MaxCPUWeight is the largest credit2 weight.
	MaxCPUWeight = 65535
	// maxCPU bounds a physical CPU number in CPUAffinity.
	maxCPU = 8191
	// MaxCmdlineLen is a PV guest's command line limit
	// (MAX_GUEST_CMDLINE, xen/include/public/xen.h).
	MaxCmdlineLen = 1023
	maxPathLen    = 4096
)

// ErrInvalidConfig is wrapped by every error Validate returns.
var ErrInvalidConfig = errors.New("invalid domain config")

// Validate checks cfg and returns an error naming the first bad field.
func (cfg DomainConfig) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidConfig, fmt.Sprintf(format, args...))
	}
	if err := ValidateName(cfg.Name); err != nil {
		return err
	}
	if err := checkPath("kernel", cfg.Kernel); err != nil {
		return bad("%v", err)
	}
	if cfg.Initramfs != "" {
		if err := checkPath("initramfs", cfg.Initramfs); err != nil {
			return bad("%v", err)
		}
	}
	if len(cfg.Cmdline) > MaxCmdlineLen {
		return bad("cmdline is %d bytes, more than %d", len(cfg.Cmdline), MaxCmdlineLen)
	}
	if i := strings.IndexFunc(cfg.Cmdline, notPrintable); i >= 0 {
		return bad("cmdline has a control or non-ASCII character at byte %d", i)
	}
	if cfg.MemoryMiB < MinMemoryMiB || cfg.MemoryMiB > MaxMemoryMiB {
		return bad("memory %d MiB is outside [%d, %d]", cfg.MemoryMiB, MinMemoryMiB, MaxMemoryMiB)
	}
	if cfg.VCPUs < 1 || cfg.VCPUs > MaxVCPUs {
		return bad("vcpus %d is outside [1, %d]", cfg.VCPUs, MaxVCPUs)
	}
	if cfg.MaxVCPUs != 0 && (cfg.MaxVCPUs < cfg.VCPUs || cfg.MaxVCPUs > MaxVCPUs) {
		return bad("maxvcpus %d is outside [vcpus %d, %d]", cfg.MaxVCPUs, cfg.VCPUs, MaxVCPUs)
	}
	if cfg.CPUWeight < 0 || cfg.CPUWeight > MaxCPUWeight {
		return bad("cpu weight %d is outside [0, %d]", cfg.CPUWeight, MaxCPUWeight)
	}
	if cfg.CPUCap < 0 || cfg.CPUCap > 100*cfg.maxVCPUs() {
		return bad("cpu cap %d%% is outside [0, %d]", cfg.CPUCap, 100*cfg.maxVCPUs())
	}
	if cfg.CPUAffinity != "" {
		if err := CheckCPUList(cfg.CPUAffinity); err != nil {
			return bad("cpu affinity: %v", err)
		}
	}
	return nil
}

func (cfg DomainConfig) maxVCPUs() int {
	if cfg.MaxVCPUs != 0 {
		return cfg.MaxVCPUs
	}
	return cfg.VCPUs
}

// CheckCPUList checks a cpuset list ("0-3,6,8-9"): comma-separated CPU
// numbers and ascending ranges, each number at most 8191.
func CheckCPUList(list string) error {
	if list == "" {
		return errors.New("empty CPU list")
	}
	if len(list) > 4096 {
		return errors.New("CPU list is longer than 4096 bytes")
	}
	for _, part := range strings.Split(list, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := cpuNumber(lo)
		if err != nil {
			return err
		}
		if isRange {
			b, err := cpuNumber(hi)
			if err != nil {
				return err
			}
			if b < a {
				return fmt.Errorf("CPU range %d-%d is backwards", a, b)
			}
		}
	}
	return nil
}

func cpuNumber(s string) (int, error) {
	if s == "" || len(s) > 4 || strings.TrimLeft(s, "0123456789") != "" {
		return 0, fmt.Errorf("%q is not a CPU number", clip(s))
	}
	n := 0
	for i := 0; i < len(s); i++ {
		n = n*10 + int(s[i]-'0')
	}
	if n > maxCPU {
		return 0, fmt.Errorf("CPU %d is beyond %d", n, maxCPU)
	}
	return n, nil
}

// ValidateName checks a domain name (see DomainConfig.Name).
func ValidateName(name string) error {
	if name == "" || len(name) > MaxNameLen {
		return fmt.Errorf("%w: name %q must have 1 to %d characters", ErrInvalidConfig, clip(name), MaxNameLen)
	}
	digits := true
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= '0' && c <= '9':
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '.', c == '_', c == '-':
			digits = false
		default:
			return fmt.Errorf("%w: name %q has a character outside [A-Za-z0-9._-]", ErrInvalidConfig, clip(name))
		}
	}
	if digits {
		return fmt.Errorf("%w: name %q is all digits, which xl would read as a domain ID", ErrInvalidConfig, name)
	}
	return nil
}

func checkPath(what, p string) error {
	switch {
	case p == "":
		return fmt.Errorf("%s path is empty", what)
	case len(p) > maxPathLen:
		return fmt.Errorf("%s path is longer than %d bytes", what, maxPathLen)
	case !filepath.IsAbs(p):
		return fmt.Errorf("%s path %q is not absolute", what, clip(p))
	case strings.IndexFunc(p, notPrintable) >= 0:
		return fmt.Errorf("%s path %q has a control or non-ASCII character", what, clip(p))
	}
	return nil
}

// notPrintable is true for anything but printable ASCII (space to tilde).
func notPrintable(r rune) bool { return r < 0x20 || r > 0x7e }

// clip shortens s and makes it printable, for error messages.
func clip(s string) string {
	if len(s) > 80 {
		s = s[:80] + "..."
	}
	return strings.Map(func(r rune) rune {
		if notPrintable(r) {
			return '?'
		}
		return r
	}, s)
}

// xlQuote returns s as a double-quoted libxlu string. libxlu's dequoting
// (tools/libs/util/libxlu_cfg.c) takes \" and \\ as escapes; s has been
// checked to hold printable ASCII only, so nothing else needs one.
func xlQuote(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '"' || c == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	b.WriteByte('"')
	return b.String()
}

// xlConfig renders cfg, which must be valid, as an xl domain config.
func (cfg DomainConfig) xlConfig() string {
	var b strings.Builder
	set := func(key, value string) { fmt.Fprintf(&b, "%s = %s\n", key, value) }
	set("name", xlQuote(cfg.Name))
	set("type", `"pv"`)
	set("kernel", xlQuote(cfg.Kernel))
	if cfg.Initramfs != "" {
		set("ramdisk", xlQuote(cfg.Initramfs))
	}
	set("cmdline", xlQuote(cfg.Cmdline))
	set("memory", fmt.Sprint(cfg.MemoryMiB))
	set("maxmem", fmt.Sprint(cfg.MemoryMiB))
	set("vcpus", fmt.Sprint(cfg.VCPUs))
	if cfg.MaxVCPUs > cfg.VCPUs {
		set("maxvcpus", fmt.Sprint(cfg.MaxVCPUs))
	}
	if cfg.CPUWeight > 0 {
		set("cpu_weight", fmt.Sprint(cfg.CPUWeight))
	}
	if cfg.CPUCap > 0 {
		set("cap", fmt.Sprint(cfg.CPUCap))
	}
	if cfg.CPUAffinity != "" {
		set("cpus", xlQuote(cfg.CPUAffinity))
	}
	return b.String()
}
