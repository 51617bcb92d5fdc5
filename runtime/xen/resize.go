package xen

import (
	"context"
	"fmt"
	"strconv"
)

// Resize changes a live domain with xl: mem-max and mem-set (ordered so
// that the ceiling never falls below the target: raised first when
// growing, lowered last when shrinking), vcpu-set, sched-credit2 and
// vcpu-pin. Each is one xl command; the first that fails ends the call,
// with what was already changed left changed (the error says which step
// failed).
func (x *XL) Resize(ctx context.Context, id DomID, r Resources) error {
	if id == 0 || id > MaxDomID {
		return fmt.Errorf("resize domain %d: not a guest domain ID", id)
	}
	if err := r.Validate(); err != nil {
		return fmt.Errorf("resize domain %d: %w", id, err)
	}
	dom := strconv.FormatUint(uint64(id), 10)
	var steps [][]string
	if r.MemoryMiB > 0 {
		info, err := x.Info(ctx, id)
		if err != nil {
			return fmt.Errorf("resize domain %d: %w", id, err)
		}
		mem := strconv.Itoa(r.MemoryMiB) + "m"
		if uint64(r.MemoryMiB) >= info.MemoryMiB {
			steps = append(steps, []string{"mem-max", dom, mem}, []string{"mem-set", dom, mem})
		} else {
			steps = append(steps, []string{"mem-set", dom, mem}, []string{"mem-max", dom, mem})
		}
	}
	if r.VCPUs > 0 {
		steps = append(steps, []string{"vcpu-set", dom, strconv.Itoa(r.VCPUs)})
	}
	if r.CPUWeight > 0 || r.CPUCap != nil {
		args := []string{"sched-credit2", "-d", dom}
		if r.CPUWeight > 0 {
			args = append(args, "-w", strconv.Itoa(r.CPUWeight))
		}
		if r.CPUCap != nil {
			args = append(args, "-c", strconv.Itoa(*r.CPUCap))
		}
		steps = append(steps, args)
	}
	if r.CPUAffinity != "" {
		steps = append(steps, []string{"vcpu-pin", dom, "all", r.CPUAffinity})
	}
	for _, s := range steps {
		if _, err := x.xl(ctx, s...); err != nil {
			if _, ierr := x.Info(ctx, id); ierr != nil {
				return fmt.Errorf("resize domain %d: %w", id, ierr)
			}
			return fmt.Errorf("resize domain %d: %w", id, err)
		}
	}
	return nil
}
