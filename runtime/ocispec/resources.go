package ocispec

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/runxen/runxen/runtime/config"
	"github.com/runxen/runxen/runtime/iolimit"
	"github.com/runxen/runxen/runtime/xen"
)

// Shape is the domain a container needs.
type Shape struct {
	// MemoryMiB is the domain's memory: the container's plus the guest's
	// overhead.
	MemoryMiB int
	// ContainerMemoryMiB is the container's part of it.
	ContainerMemoryMiB int
	VCPUs              int
	// CPUWeight is the Xen scheduler weight (0: Xen's default, 256), from
	// linux.resources.cpu.shares.
	CPUWeight int
	// CPUCap is the Xen scheduler cap in percent of one physical CPU (0:
	// none), from linux.resources.cpu.quota and period.
	CPUCap int
	// CPUAffinity is the host CPUs the vCPUs may run on, in cpuset list
	// syntax ("" for any), from linux.resources.cpu.cpus.
	CPUAffinity string
}

// mib is 2^20 bytes.
const mib = 1 << 20

// Limits on what a spec may ask for.
const (
	// maxCPUID bounds a CPU number in a cpuset (Linux's NR_CPUS is at
	// most 8192).
	maxCPUID = 8191
	// defaultPeriod is the CFS period when the spec gives a quota alone.
	defaultPeriod = 100000
	// xenDefaultWeight is the credit2 weight of a domain that sets none,
	// and cgroupDefaultShares the cgroup v1 shares of a container that
	// sets none: the one maps to the other.
	xenDefaultWeight    = 256
	cgroupDefaultShares = 1024
	maxXenWeight        = 65535
)

// resources works out the domain's shape and the guest's copy of the
// resources, and the I/O limits derived from blockIO throttles. r is the
// guest's copy (changed in place); field names use prefix
// ("linux.resources" for a spec, "resources" for an update). forUpdate
// leaves unset memory and CPU limits unchanged (0) instead of applying the
// defaults.
func resources(p *problems, notes *[]string, r *specs.LinuxResources, prefix string, s config.Config, forUpdate bool, base iolimit.Limits) (Shape, *iolimit.Limits) {
	var sh Shape
	g := s.Guest
	if !forUpdate {
		sh.ContainerMemoryMiB, sh.VCPUs = g.MemoryMiB, g.VCPUs
	}
	if r == nil {
		if sh.ContainerMemoryMiB > 0 {
			sh.MemoryMiB = int(g.DomainMemoryMiB(int64(sh.ContainerMemoryMiB)))
		}
		return sh, nil
	}
	if m := r.Memory; m != nil && m.Limit != nil && *m.Limit > 0 {
		limit := *m.Limit
		f := prefix + ".memory.limit"
		ceilMiB := limit / mib
		if limit%mib != 0 {
			ceilMiB++
		}
		switch {
		case limit < int64(g.MinMemoryMiB)*mib:
			p.invalid(f, "%s is below runxen's minimum of %d MiB (guest.min_memory_mib)", bytesString(limit), g.MinMemoryMiB)
		case ceilMiB > xen.MaxMemoryMiB || g.DomainMemoryMiB(ceilMiB) > xen.MaxMemoryMiB:
			p.invalid(f, "%s is more than a Xen domain can have (%d MiB with the guest's overhead)", bytesString(limit), xen.MaxMemoryMiB)
		default:
			sh.ContainerMemoryMiB = int(ceilMiB)
		}
	} else if m != nil && m.Limit != nil && *m.Limit < -1 {
		p.invalid(prefix+".memory.limit", "%d is negative (-1 or no value means unlimited)", *m.Limit)
	}
	if sh.ContainerMemoryMiB > 0 {
		sh.MemoryMiB = int(g.DomainMemoryMiB(int64(sh.ContainerMemoryMiB)))
	}
	if c := r.CPU; c != nil {
		cpus(p, notes, c, prefix+".cpu", &sh)
	}
	if len(r.HugepageLimits) > 0 {
		nonzero := false
		for i, h := range r.HugepageLimits {
			if h.Limit != 0 {
				nonzero = true
				p.unsupported(fmt.Sprintf("%s.hugepageLimits[%d]", prefix, i),
					"a Xen PV guest has no huge pages, so a %.40q limit of %d bytes cannot be given", h.Pagesize, h.Limit)
			}
		}
		if !nonzero {
			*notes = append(*notes, prefix+".hugepageLimits: dropped: every limit is 0 and a Xen PV guest has no huge pages")
			r.HugepageLimits = nil
		}
	}
	return sh, blockIO(p, notes, r, prefix, base)
}

// cpus derives vCPUs and Xen scheduling from the cpu controller's
// settings, and removes from the guest's copy what names host CPUs.
func cpus(p *problems, notes *[]string, c *specs.LinuxCPU, f string, sh *Shape) {
	fromQuota, fromSet := 0, 0
	if c.Quota != nil && *c.Quota > 0 {
		period := uint64(defaultPeriod)
		if c.Period != nil && *c.Period > 0 {
			period = *c.Period
		}
		q := uint64(*c.Quota)
		n := q / period
		if q%period != 0 {
			n++
		}
		fromQuota = int(min(n, uint64(math.MaxInt32)))
		// Xen's cap is a percentage of one physical CPU.
		capPct := (q*100 + period - 1) / period
		sh.CPUCap = int(min(capPct, uint64(xen.MaxVCPUs*100)))
	}
	if c.Cpus != "" {
		n, err := countCPUs(c.Cpus)
		if err != nil {
			p.invalid(f+".cpus", "%.120q: %v", c.Cpus, err)
		} else {
			fromSet = n
			sh.CPUAffinity = c.Cpus
			*notes = append(*notes, fmt.Sprintf("%s.cpus %q: the domain's vCPUs are pinned to those host CPUs; the container uses all of the guest's", f, c.Cpus))
			c.Cpus = ""
		}
	}
	if c.Mems != "" {
		p.unsupported(f+".mems", "%.120q: a Xen PV guest cannot bind its memory to host NUMA nodes", c.Mems)
	}
	switch {
	case fromQuota > 0 && fromSet > 0:
		sh.VCPUs = min(fromQuota, fromSet)
	case fromQuota > 0:
		sh.VCPUs = fromQuota
	case fromSet > 0:
		sh.VCPUs = fromSet
	}
	if sh.VCPUs > xen.MaxVCPUs {
		*notes = append(*notes, fmt.Sprintf("%s: %d CPUs asked; a domain has at most %d vCPUs", f, sh.VCPUs, xen.MaxVCPUs))
		sh.VCPUs = xen.MaxVCPUs
	}
	if sh.CPUCap >= 100*max(sh.VCPUs, 1) {
		// A cap at or above what the vCPUs can use is no cap (a cpuset
		// smaller than the quota, or a clamped vCPU count).
		sh.CPUCap = 0
	}
	if c.Shares != nil && *c.Shares > 0 {
		w := *c.Shares * xenDefaultWeight / cgroupDefaultShares
		sh.CPUWeight = int(max(1, min(w, maxXenWeight)))
	}
}

// countCPUs counts the CPUs of a cpuset list ("0-3,8,10-11"), which must
// be one the toolstack takes as an affinity.
func countCPUs(list string) (int, error) {
	if err := xen.CheckCPUList(list); err != nil {
		return 0, err
	}
	var seen [maxCPUID + 1]bool
	n := 0
	for _, part := range strings.Split(list, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := cpuNumber(lo)
		if err != nil {
			return 0, err
		}
		b := a
		if isRange {
			if b, err = cpuNumber(hi); err != nil {
				return 0, err
			}
			if b < a {
				return 0, fmt.Errorf("range %d-%d is backwards", a, b)
			}
		}
		for i := a; i <= b; i++ {
			if !seen[i] {
				seen[i] = true
				n++
			}
		}
	}
	return n, nil
}

func cpuNumber(s string) (int, error) {
	if s == "" || len(s) > 5 || strings.TrimLeft(s, "0123456789") != "" {
		return 0, fmt.Errorf("%.120q is not a CPU number", s)
	}
	n, _ := strconv.Atoi(s)
	if n > maxCPUID {
		return 0, fmt.Errorf("CPU %d is beyond %d", n, maxCPUID)
	}
	return n, nil
}

// blockIO turns device throttles into share limits (the guest has none of
// the host's block devices; all its file I/O goes through the shares) and
// refuses weights, which no share can honour.
func blockIO(p *problems, notes *[]string, r *specs.LinuxResources, prefix string, base iolimit.Limits) *iolimit.Limits {
	b := r.BlockIO
	if b == nil {
		return nil
	}
	f := prefix + ".blockIO"
	if b.Weight != nil && *b.Weight != 0 {
		p.unsupported(f+".weight", "runxen cannot weigh a guest's I/O against other containers'; use I/O limits (--device-*-bps, io.runxen.io.* annotations)")
	}
	for i := range b.WeightDevice {
		p.unsupported(fmt.Sprintf("%s.weightDevice[%d]", f, i), "runxen cannot weigh a guest's I/O against other containers'; use I/O limits")
	}
	l := base
	throttled := false
	for _, t := range []struct {
		name string
		devs []specs.LinuxThrottleDevice
		dst  *uint64
	}{
		{"throttleReadBpsDevice", b.ThrottleReadBpsDevice, &l.ReadBytesPerSec},
		{"throttleWriteBpsDevice", b.ThrottleWriteBpsDevice, &l.WriteBytesPerSec},
		{"throttleReadIOPSDevice", b.ThrottleReadIOPSDevice, &l.ReadOpsPerSec},
		{"throttleWriteIOPSDevice", b.ThrottleWriteIOPSDevice, &l.WriteOpsPerSec},
	} {
		if len(t.devs) == 0 {
			continue
		}
		// The lowest rate wins: any share may live on any of the
		// devices. A rate of 0 removes a limit, as for cgroups.
		throttled = true
		*t.dst = 0
		for _, d := range t.devs {
			if d.Rate > 0 && (*t.dst == 0 || d.Rate < *t.dst) {
				*t.dst = d.Rate
			}
		}
	}
	// The guest's copy keeps nothing that names host devices.
	b.ThrottleReadBpsDevice, b.ThrottleWriteBpsDevice = nil, nil
	b.ThrottleReadIOPSDevice, b.ThrottleWriteIOPSDevice = nil, nil
	if !throttled {
		return nil
	}
	*notes = append(*notes, fmt.Sprintf("%s throttles became the shares' I/O limits: %+v", f, l))
	return &l
}

// bytesString writes n bytes in the largest whole binary unit.
func bytesString(n int64) string {
	switch {
	case n%(1<<30) == 0 && n >= 1<<30:
		return fmt.Sprintf("%d GiB", n>>30)
	case n%mib == 0 && n >= mib:
		return fmt.Sprintf("%d MiB", n/mib)
	case n%1024 == 0 && n >= 1024:
		return fmt.Sprintf("%d KiB", n/1024)
	}
	return fmt.Sprintf("%d bytes", n)
}
