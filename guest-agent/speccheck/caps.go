package speccheck

import (
	"regexp"
	"strconv"

	"github.com/opencontainers/runtime-spec/specs-go/features"
)

// Capabilities is what the guest's container runtime can honour beyond the
// OCI 1.0 baseline every supported runc handles.
type Capabilities struct {
	// Namespaces are the namespace types runc can create.
	Namespaces map[string]bool
	// Fields runc 1.2 added; runc 1.1 ignores them silently.
	TimeOffsets     bool // linux.timeOffsets
	IOPriority      bool // process.ioPriority
	Scheduler       bool // process.scheduler
	ExecCPUAffinity bool // process.execCPUAffinity
	Personality     bool // linux.personality
	IDMappedMounts  bool // mounts[].uidMappings, gidMappings
	CPUBurst        bool // linux.resources.cpu.burst
	CPUIdle         bool // linux.resources.cpu.idle
	CheckBeforeUpd  bool // linux.resources.memory.checkBeforeUpdate
	// Fields of runc 1.3 and later.
	NetDevices   bool // linux.netDevices
	MemoryPolicy bool // linux.memoryPolicy
}

// baseNamespaces are the types every runc since 1.0 creates.
var baseNamespaces = []string{"cgroup", "ipc", "mount", "network", "pid", "user", "uts"}

// Runc11 is what runc 1.1 honours: Debian trixie's runc (1.1.15), which the
// guest initramfs ships, and the fallback when detection fails.
func Runc11() Capabilities {
	c := Capabilities{Namespaces: map[string]bool{}}
	for _, n := range baseNamespaces {
		c.Namespaces[n] = true
	}
	return c
}

var versionRE = regexp.MustCompile(`(?m)^runc version v?(\d+)\.(\d+)`)

// ForRunc derives the capabilities from the output of `runc --version` and,
// when available, `runc features` (nil otherwise). Unparseable versions are
// treated as 1.1: rejecting a field a newer runc could honour is safer than
// letting an older one drop it.
func ForRunc(versionOutput string, feat *features.Features) Capabilities {
	c := Runc11()
	major, minor := 1, 1
	if m := versionRE.FindStringSubmatch(versionOutput); m != nil {
		major, _ = strconv.Atoi(m[1])
		minor, _ = strconv.Atoi(m[2])
	}
	atLeast := func(ma, mi int) bool { return major > ma || major == ma && minor >= mi }
	if atLeast(1, 2) {
		c.Namespaces["time"] = true
		c.TimeOffsets = true
		c.IOPriority = true
		c.Scheduler = true
		c.ExecCPUAffinity = true
		c.Personality = true
		c.IDMappedMounts = true
		c.CPUBurst = true
		c.CPUIdle = true
		c.CheckBeforeUpd = true
	}
	if atLeast(1, 3) {
		c.NetDevices = true
		c.MemoryPolicy = true
	}
	if feat != nil && feat.Linux != nil && len(feat.Linux.Namespaces) > 0 {
		// runc's own list wins over the version guess.
		c.Namespaces = map[string]bool{}
		for _, n := range feat.Linux.Namespaces {
			c.Namespaces[n] = true
		}
		c.TimeOffsets = c.TimeOffsets && c.Namespaces["time"]
		if feat.Linux.MountExtensions != nil && feat.Linux.MountExtensions.IDMap != nil &&
			feat.Linux.MountExtensions.IDMap.Enabled != nil {
			c.IDMappedMounts = *feat.Linux.MountExtensions.IDMap.Enabled
		}
	}
	return c
}
