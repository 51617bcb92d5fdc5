package speccheck

import (
	"errors"
	"fmt"
	"path"
	"strings"

	"github.com/containerd/errdefs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// FieldError says which field of a spec the guest cannot honour, and why.
// It wraps errdefs.ErrInvalidArgument.
type FieldError struct {
	Field  string // JSON path, e.g. "linux.namespaces[2].path"
	Reason string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Reason }

// Unwrap makes errors.Is(err, errdefs.ErrInvalidArgument) hold.
func (e *FieldError) Unwrap() error { return errdefs.ErrInvalidArgument }

// problems collects every FieldError of one check, so the caller sees all
// the fields to fix at once rather than one per attempt.
type problems []error

func (p *problems) add(field, format string, args ...any) {
	*p = append(*p, &FieldError{Field: field, Reason: fmt.Sprintf(format, args...)})
}

func (p problems) err() error { return errors.Join(p...) }

// Spec checks a container's spec. It may change spec where dropping a field
// changes nothing the container can observe (see the package doc: an
// unshared time namespace runc cannot create); each change is described in
// the returned notes, for the log. The error, if any, joins one FieldError
// per problem.
func Spec(spec *specs.Spec, caps Capabilities) (notes []string, err error) {
	var p problems
	if spec == nil {
		p.add("spec", "is empty")
		return nil, p.err()
	}
	if !strings.HasPrefix(spec.Version, "1.") {
		p.add("ociVersion", "%q is not a 1.x runtime spec version", spec.Version)
	}
	if spec.Process == nil {
		p.add("process", "is required: the container needs an init process")
	} else {
		checkProcess(&p, "process", spec.Process, caps)
	}
	switch {
	case spec.Root == nil || spec.Root.Path == "":
		p.add("root.path", "is required")
	case !path.IsAbs(spec.Root.Path):
		p.add("root.path", "%q must be an absolute path in the guest", spec.Root.Path)
	}
	checkHooks(&p, spec.Hooks)
	for _, o := range []struct {
		field string
		set   bool
	}{
		{"windows", spec.Windows != nil}, {"solaris", spec.Solaris != nil}, {"vm", spec.VM != nil},
		{"zos", spec.ZOS != nil}, {"freebsd", spec.FreeBSD != nil},
	} {
		if o.set {
			p.add(o.field, "the guest runs Linux containers only")
		}
	}
	for i, m := range spec.Mounts {
		if (len(m.UIDMappings) > 0 || len(m.GIDMappings) > 0) && !caps.IDMappedMounts {
			p.add(fmt.Sprintf("mounts[%d].uidMappings", i), "idmapped mounts need runc 1.2 or later in the guest")
		}
	}
	if spec.Linux == nil {
		p.add("linux", "is required for a Linux container")
	} else {
		notes = checkLinux(&p, spec.Linux, caps)
	}
	return notes, p.err()
}

// Process checks the OCI Process of an exec.
func Process(proc *specs.Process, caps Capabilities) error {
	var p problems
	if proc == nil {
		p.add("process", "is required")
	} else {
		checkProcess(&p, "process", proc, caps)
	}
	return p.err()
}

// Resources checks a LinuxResources update.
func Resources(r *specs.LinuxResources, caps Capabilities) error {
	var p problems
	checkResources(&p, "resources", r, caps)
	return p.err()
}

func checkProcess(p *problems, f string, proc *specs.Process, caps Capabilities) {
	if len(proc.Args) == 0 || proc.Args[0] == "" {
		p.add(f+".args", "must name the program to run")
	}
	if !path.IsAbs(proc.Cwd) {
		p.add(f+".cwd", "%q must be an absolute path", proc.Cwd)
	}
	if proc.ApparmorProfile != "" {
		p.add(f+".apparmorProfile", "AppArmor profiles are loaded on the host, not in the guest; the VM is the boundary (the shim must strip %q)", proc.ApparmorProfile)
	}
	if proc.SelinuxLabel != "" {
		p.add(f+".selinuxLabel", "the guest has no SELinux policy; the VM is the boundary (the shim must strip it)")
	}
	if proc.IOPriority != nil && !caps.IOPriority {
		p.add(f+".ioPriority", "needs runc 1.2 or later in the guest")
	}
	if proc.Scheduler != nil && !caps.Scheduler {
		p.add(f+".scheduler", "needs runc 1.2 or later in the guest")
	}
	if proc.ExecCPUAffinity != nil && !caps.ExecCPUAffinity {
		p.add(f+".execCPUAffinity", "needs runc 1.2 or later in the guest")
	}
}

func checkHooks(p *problems, h *specs.Hooks) {
	if h == nil {
		return
	}
	for _, hk := range []struct {
		name  string
		hooks []specs.Hook
	}{
		//lint:ignore SA1019 a deprecated hook is still a hook the guest must refuse
		{"prestart", h.Prestart}, {"createRuntime", h.CreateRuntime}, {"createContainer", h.CreateContainer},
		{"startContainer", h.StartContainer}, {"poststart", h.Poststart}, {"poststop", h.Poststop},
	} {
		if len(hk.hooks) > 0 {
			p.add("hooks."+hk.name, "OCI hooks run on the host: the shim runs them and must strip them from the guest's spec")
		}
	}
}

// knownNamespaces are the types the runtime spec defines.
var knownNamespaces = map[specs.LinuxNamespaceType]bool{
	specs.PIDNamespace: true, specs.NetworkNamespace: true, specs.MountNamespace: true,
	specs.IPCNamespace: true, specs.UTSNamespace: true, specs.UserNamespace: true,
	specs.CgroupNamespace: true, specs.TimeNamespace: true,
}

func checkLinux(p *problems, l *specs.Linux, caps Capabilities) (notes []string) {
	seen := map[specs.LinuxNamespaceType]bool{}
	kept := l.Namespaces[:0:0]
	for i, ns := range l.Namespaces {
		f := fmt.Sprintf("linux.namespaces[%d]", i)
		switch {
		case !knownNamespaces[ns.Type]:
			p.add(f+".type", "unknown namespace type %q", ns.Type)
			continue
		case seen[ns.Type]:
			p.add(f+".type", "namespace %q listed twice", ns.Type)
			continue
		}
		seen[ns.Type] = true
		if ns.Path != "" {
			p.add(f+".path", "cannot join namespace %q: it names a host process's %s namespace, and the guest has no host processes", ns.Path, ns.Type)
			continue
		}
		if !caps.Namespaces[string(ns.Type)] {
			if ns.Type == specs.TimeNamespace && len(l.TimeOffsets) == 0 {
				notes = append(notes, "dropped the time namespace: the guest's runc cannot create one and, without offsets, the guest's own clocks are what it would show")
				continue
			}
			p.add(f+".type", "the guest's runc cannot create a %q namespace", ns.Type)
			continue
		}
		kept = append(kept, ns)
	}
	if len(notes) > 0 {
		l.Namespaces = kept
	}
	if len(l.TimeOffsets) > 0 && !caps.TimeOffsets {
		p.add("linux.timeOffsets", "needs runc 1.2 or later in the guest")
	}
	if l.IntelRdt != nil {
		p.add("linux.intelRdt", "a Xen PV guest has no Intel RDT")
	}
	if l.MountLabel != "" {
		p.add("linux.mountLabel", "the guest has no SELinux policy; the VM is the boundary (the shim must strip it)")
	}
	if l.Personality != nil && !caps.Personality {
		p.add("linux.personality", "needs runc 1.2 or later in the guest")
	}
	if len(l.NetDevices) > 0 && !caps.NetDevices {
		p.add("linux.netDevices", "needs runc 1.3 or later in the guest")
	}
	if l.MemoryPolicy != nil && !caps.MemoryPolicy {
		p.add("linux.memoryPolicy", "needs runc 1.3 or later in the guest")
	}
	if l.Seccomp != nil && l.Seccomp.ListenerPath != "" {
		p.add("linux.seccomp.listenerPath", "the seccomp agent %q would be a host process; the guest cannot reach it", l.Seccomp.ListenerPath)
	}
	checkResources(p, "linux.resources", l.Resources, caps)
	return notes
}

func checkResources(p *problems, f string, r *specs.LinuxResources, caps Capabilities) {
	if r == nil {
		return
	}
	const v1only = "cgroup v1 only; the guest runs cgroup v2"
	if len(r.Rdma) > 0 {
		p.add(f+".rdma", "a Xen PV guest has no RDMA devices")
	}
	if r.Network != nil && (r.Network.ClassID != nil || len(r.Network.Priorities) > 0) {
		p.add(f+".network", "net_cls and net_prio are %s", v1only)
	}
	if m := r.Memory; m != nil {
		//lint:ignore SA1019 refusing the deprecated field is the point
		if m.Kernel != nil {
			p.add(f+".memory.kernel", "is %s", v1only)
		}
		if m.KernelTCP != nil {
			p.add(f+".memory.kernelTCP", "is %s", v1only)
		}
		if m.Swappiness != nil {
			p.add(f+".memory.swappiness", "is %s", v1only)
		}
		if m.DisableOOMKiller != nil && *m.DisableOOMKiller {
			p.add(f+".memory.disableOOMKiller", "is %s", v1only)
		}
		if m.UseHierarchy != nil && *m.UseHierarchy {
			p.add(f+".memory.useHierarchy", "is %s", v1only)
		}
		if m.CheckBeforeUpdate != nil && *m.CheckBeforeUpdate && !caps.CheckBeforeUpd {
			p.add(f+".memory.checkBeforeUpdate", "needs runc 1.2 or later in the guest")
		}
	}
	if c := r.CPU; c != nil {
		if c.RealtimeRuntime != nil && *c.RealtimeRuntime != 0 || c.RealtimePeriod != nil && *c.RealtimePeriod != 0 {
			p.add(f+".cpu.realtimeRuntime", "realtime CPU limits are %s", v1only)
		}
		if c.Burst != nil && !caps.CPUBurst {
			p.add(f+".cpu.burst", "needs runc 1.2 or later in the guest")
		}
		if c.Idle != nil && !caps.CPUIdle {
			p.add(f+".cpu.idle", "needs runc 1.2 or later in the guest")
		}
	}
	if b := r.BlockIO; b != nil && b.LeafWeight != nil {
		p.add(f+".blockIO.leafWeight", "is %s", v1only)
	}
}
