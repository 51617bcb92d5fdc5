package ocispec

import (
	"encoding/json"
	"fmt"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	agent "github.com/runxen/runxen/guest-agent/api/v1"
	"github.com/runxen/runxen/guest-agent/speccheck"
	"github.com/runxen/runxen/runtime/config"
	"github.com/runxen/runxen/runtime/iolimit"
)

// Options say where a container's host pieces are.
type Options struct {
	// RootfsDir is the container's root file system on the host,
	// absolute: Docker's root.path, or <bundle>/rootfs where the shim
	// mounted containerd's rootfs mounts.
	RootfsDir string
	// StagingDir is a host directory of the container's own (under
	// state_dir), absolute, where file binds are staged (Share.Files). The
	// translation only names paths under it.
	StagingDir string
	// Settings are runxen's configuration.
	Settings config.Config
	// TagPrefix goes in front of every share tag, to keep several
	// containers' shares apart in one guest; "" for a sandbox's first.
	TagPrefix string
	// Host answers questions about bind sources; nil means OSHost.
	Host Host
}

// Result is a container's translation.
type Result struct {
	// Shape is the domain to create.
	Shape Shape
	// Spec is what the agent gets: root.path and bind sources are guest
	// paths, host-only fields are gone.
	Spec *specs.Spec
	// Shares are the host directories to serve, the root file system
	// first.
	Shares []Share
	// IOLimits apply to every share.
	IOLimits iolimit.Limits
	// Notes say what was dropped or changed and why, for the log.
	Notes []string
}

// GuestCapabilities is what the guest's runc honours: the agent initramfs
// ships Debian trixie's runc 1.1. Checking the guest's spec against it on
// the host turns what the agent would refuse into an error before any
// domain exists.
var GuestCapabilities = speccheck.Runc11

// Translate turns a container's host spec into the guest's spec, the
// domain's shape and the shares, or explains every field it cannot honour
// (errors wrapping errdefs.ErrInvalidArgument or ErrNotImplemented, each a
// *FieldError or a speccheck.FieldError naming the field). spec is not
// changed. See the package doc for the rule of each field.
func Translate(spec *specs.Spec, o Options) (*Result, error) {
	var p problems
	if spec == nil {
		p.invalid("spec", "is empty")
		return nil, p.err()
	}
	if err := o.check(); err != nil {
		return nil, err
	}
	if o.Host == nil {
		o.Host = OSHost{}
	}
	g, err := deepCopy(spec)
	if err != nil {
		return nil, err
	}
	r := &Result{Spec: g}
	notes := &r.Notes

	if g.Hooks != nil {
		*notes = append(*notes, "hooks: run on the host by the shim, not in the guest")
		g.Hooks = nil
	}
	securityLabels(&p, notes, g)
	limits := o.Settings.Shares.IOLimits.Limits()
	if l := g.Linux; l != nil {
		linux(&p, notes, l)
		sh, throttled := resources(&p, notes, l.Resources, "linux.resources", o.Settings, false, limits)
		r.Shape = sh
		if throttled != nil {
			limits = *throttled
		}
	} else {
		// speccheck refuses the spec below; the shape stays sane meanwhile.
		r.Shape, _ = resources(&p, notes, nil, "linux.resources", o.Settings, false, limits)
	}
	limits, err = annotatedLimits(g.Annotations, limits)
	if err != nil {
		p.add(err)
	}
	r.IOLimits = limits

	m := &mounter{p: &p, notes: notes, host: o.Host, prefix: o.TagPrefix, stage: o.StagingDir,
		byDir: map[shareKey]int{}, files: map[bool]int{}}
	rootfs := m.addShare(Share{Tag: m.tag(RootfsTag), HostDir: filepath.Clean(o.RootfsDir)})
	if g.Root == nil {
		g.Root = &specs.Root{}
	}
	g.Root.Path = m.shares[rootfs].GuestPath
	g.Mounts = m.mounts(g.Mounts)
	r.Shares = m.shares
	for _, s := range r.Shares {
		if err := agent.CheckShareTag(s.Tag); err != nil {
			p.invalid("shares", "%v (is the tag prefix %.120q too long?)", err, o.TagPrefix)
			break
		}
	}

	// What the agent would refuse, refused here first, with its words.
	checkNotes, err := speccheck.Spec(g, GuestCapabilities())
	if err != nil {
		p.add(err)
	}
	*notes = append(*notes, checkNotes...)
	if err := p.err(); err != nil {
		return nil, err
	}
	return r, nil
}

func (o Options) check() error {
	var p problems
	for _, d := range []struct{ name, dir string }{{"RootfsDir", o.RootfsDir}, {"StagingDir", o.StagingDir}} {
		if !filepath.IsAbs(d.dir) {
			p.invalid(d.name, "%.120q is not an absolute host path", d.dir)
		}
	}
	if err := o.Settings.Validate(); err != nil {
		p.add(err)
	}
	return p.err()
}

// linux handles the host-only parts of the linux section.
func linux(p *problems, notes *[]string, l *specs.Linux) {
	for i := range l.Namespaces {
		ns := &l.Namespaces[i]
		if ns.Path == "" {
			continue
		}
		f := fmt.Sprintf("linux.namespaces[%d].path", i)
		if ns.Type == specs.NetworkNamespace {
			// The host's namespace stays on the host, held by the shim; the
			// guest makes a new one for the container.
			*notes = append(*notes, fmt.Sprintf("%s %q: the host's network namespace stays on the host; the container gets a new one in the guest", f, ns.Path))
			ns.Path = ""
			continue
		}
		p.unsupported(f, "%.120q: joining another process's %s namespace is impossible from a guest, which shares no kernel with the host or other containers",
			ns.Path, ns.Type)
	}
	if l.CgroupsPath != "" {
		*notes = append(*notes, fmt.Sprintf("linux.cgroupsPath %q: the host's; the guest chooses its own", l.CgroupsPath))
		l.CgroupsPath = ""
	}
	for i, d := range l.Devices {
		p.unsupported(fmt.Sprintf("linux.devices[%d]", i), "%.120q: the guest has none of the host's devices (docker run --device and --privileged are not supported)", d.Path)
	}
}

// annotatedLimits applies the io.runxen.* annotations, naming them on error.
func annotatedLimits(ann map[string]string, l iolimit.Limits) (iolimit.Limits, error) {
	base := config.IOLimits{ReadBytesPerSec: l.ReadBytesPerSec, WriteBytesPerSec: l.WriteBytesPerSec,
		ReadOpsPerSec: l.ReadOpsPerSec, WriteOpsPerSec: l.WriteOpsPerSec}
	got, err := config.ApplyAnnotations(ann, base)
	if err != nil {
		return l, err
	}
	return got.Limits(), nil
}

// deepCopy copies a spec through JSON, the form the agent gets anyway.
func deepCopy(s *specs.Spec) (*specs.Spec, error) {
	b, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("copy spec: %w", err)
	}
	var c specs.Spec
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("copy spec: %w", err)
	}
	return &c, nil
}
