package ocispec

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/runxen/runxen/runtime/config"
	"github.com/runxen/runxen/runtime/iolimit"
)

const (
	dockerCID  = "3f8a2c1d9e7b4a6f5c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b"
	dockerDir  = "/var/lib/docker/containers/" + dockerCID
	nerdctlCID = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90"
	nerdctlDir = "/var/lib/nerdctl/1935db59"
	rootfsDir  = "/run/containerd/io.containerd.runtime.v2.task/moby/c1/rootfs"
	stageDir   = "/run/runxen/moby/c1"
)

// host knows every bind source the testdata specs name.
var host = fakeHost{
	dockerDir + "/mounts/shm":   {mode: fs0755dir(), tmpfs: 64 << 20},
	dockerDir + "/resolv.conf":  file,
	dockerDir + "/hostname":     file,
	dockerDir + "/hosts":        file,
	"/srv/data":                 dir,
	"/srv/conf/app.ini":         file,
	"/srv/notshm":               dir,
	"/dev/shm":                  {mode: fs0755dir(), tmpfs: 1 << 30},
	"/run/docker.sock":          {mode: fsSocket()},
	"/var/lib/docker/volumes/x": dir,
	nerdctlDir + "/containers/default/" + nerdctlCID + "/resolv.conf": file,
	nerdctlDir + "/etchosts/default/" + nerdctlCID + "/hosts":         file,
	nerdctlDir + "/containers/default/" + nerdctlCID + "/hostname":    file,
}

func loadSpec(t testing.TB, name string) *specs.Spec {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var s specs.Spec
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return &s
}

func opts() Options {
	return Options{RootfsDir: rootfsDir, StagingDir: stageDir, Settings: config.Default(), Host: host}
}

// kernelMountsOf returns the spec's mounts that are not binds.
func kernelMountsOf(s *specs.Spec) []specs.Mount {
	var out []specs.Mount
	for _, m := range s.Mounts {
		if !isBind(m) {
			out = append(out, m)
		}
	}
	return out
}

// normalized zeroes what the translation changes on purpose, so that the
// rest of host and guest specs can be compared: everything else must pass
// unchanged.
func normalized(t *testing.T, s *specs.Spec) *specs.Spec {
	t.Helper()
	c, err := deepCopy(s)
	if err != nil {
		t.Fatal(err)
	}
	c.Root, c.Mounts, c.Hooks = nil, nil, nil
	if c.Process != nil {
		c.Process.ApparmorProfile, c.Process.SelinuxLabel = "", ""
	}
	if l := c.Linux; l != nil {
		l.CgroupsPath, l.MountLabel = "", ""
		for i := range l.Namespaces {
			if l.Namespaces[i].Type == specs.NetworkNamespace {
				l.Namespaces[i].Path = ""
			}
		}
		if r := l.Resources; r != nil {
			if r.CPU != nil {
				r.CPU.Cpus = ""
			}
			if b := r.BlockIO; b != nil {
				b.ThrottleReadBpsDevice, b.ThrottleWriteBpsDevice, b.ThrottleReadIOPSDevice, b.ThrottleWriteIOPSDevice = nil, nil, nil, nil
			}
		}
	}
	return c
}

func TestTranslateEngineSpecs(t *testing.T) {
	filesRW := func(files ...string) Share {
		s := Share{Tag: "files-rw", HostDir: stageDir + "/files-rw", GuestPath: "/run/runxen/shares/files-rw"}
		for i, f := range files {
			s.Files = append(s.Files, StagedFile{Name: string(rune('0' + i)), Source: f})
		}
		return s
	}
	rootfs := Share{Tag: "rootfs", HostDir: rootfsDir, GuestPath: "/run/runxen/shares/rootfs"}
	bind := func(dst, src string, opts ...string) specs.Mount {
		return specs.Mount{Destination: dst, Type: "bind", Source: src, Options: opts}
	}
	dockerShm := specs.Mount{Destination: "/dev/shm", Type: "tmpfs", Source: "shm",
		Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=67108864"}}
	tests := []struct {
		file       string
		shape      Shape
		shares     []Share
		binds      []specs.Mount // the guest's non-kernel mounts, in order
		limits     iolimit.Limits
		notes      []string // substrings, one note each
		tmpfsAdded int      // kernel mounts the translation added (shm)
	}{
		{
			file:   "docker26-run.json",
			shape:  Shape{MemoryMiB: 512 + 128 + 21, ContainerMemoryMiB: 512, VCPUs: 1},
			shares: []Share{rootfs, filesRW(dockerDir+"/resolv.conf", dockerDir+"/hostname", dockerDir+"/hosts")},
			binds: []specs.Mount{
				bind("/etc/resolv.conf", "/run/runxen/shares/files-rw/0", "rbind", "rprivate"),
				bind("/etc/hostname", "/run/runxen/shares/files-rw/1", "rbind", "rprivate"),
				bind("/etc/hosts", "/run/runxen/shares/files-rw/2", "rbind", "rprivate"),
			},
			notes:      []string{"hooks", `process.apparmorProfile "docker-default" dropped`, "linux.cgroupsPath", "/dev/shm"},
			tmpfsAdded: 1,
		},
		{
			file:  "docker26-volumes.json",
			shape: Shape{MemoryMiB: 256 + 128 + 11, ContainerMemoryMiB: 256, VCPUs: 2, CPUWeight: 128, CPUCap: 150},
			shares: []Share{
				rootfs,
				filesRW(dockerDir+"/resolv.conf", dockerDir+"/hostname", dockerDir+"/hosts"),
				{Tag: "vol0", HostDir: "/srv/data", GuestPath: "/run/runxen/shares/vol0"},
				{Tag: "files-ro", HostDir: stageDir + "/files-ro", GuestPath: "/run/runxen/shares/files-ro", ReadOnly: true,
					Files: []StagedFile{{Name: "0", Source: "/srv/conf/app.ini"}}},
			},
			binds: []specs.Mount{
				bind("/etc/resolv.conf", "/run/runxen/shares/files-rw/0", "rbind", "rprivate"),
				bind("/etc/hostname", "/run/runxen/shares/files-rw/1", "rbind", "rprivate"),
				bind("/etc/hosts", "/run/runxen/shares/files-rw/2", "rbind", "rprivate"),
				bind("/data", "/run/runxen/shares/vol0", "rbind"),
				bind("/etc/app.ini", "/run/runxen/shares/files-ro/0", "rbind", "ro", "rprivate"),
				bind("/mirror", "/run/runxen/shares/vol0", "rbind"),
			},
			limits:     iolimit.Limits{WriteBytesPerSec: 1 << 20, ReadOpsPerSec: 50},
			notes:      []string{"blockIO throttles became the shares' I/O limits"},
			tmpfsAdded: 1,
		},
		{
			file:   "nerdctl2-run.json",
			shape:  Shape{MemoryMiB: 661, ContainerMemoryMiB: 512, VCPUs: 1, CPUWeight: 256},
			shares: []Share{rootfs, filesRW(nerdctlDir+"/containers/default/"+nerdctlCID+"/resolv.conf", nerdctlDir+"/etchosts/default/"+nerdctlCID+"/hosts", nerdctlDir+"/containers/default/"+nerdctlCID+"/hostname")},
			binds: []specs.Mount{
				bind("/etc/resolv.conf", "/run/runxen/shares/files-rw/0", "bind"),
				bind("/etc/hosts", "/run/runxen/shares/files-rw/1", "bind"),
				bind("/etc/hostname", "/run/runxen/shares/files-rw/2", "bind"),
			},
			notes: []string{"hooks", `"nerdctl-default" dropped`, "system.slice:nerdctl:"},
		},
		{
			file:   "ctr2-run.json",
			shape:  Shape{MemoryMiB: 661, ContainerMemoryMiB: 512, VCPUs: 1},
			shares: []Share{rootfs},
			notes:  []string{`linux.cgroupsPath "/default/c1"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			spec := loadSpec(t, tt.file)
			before := loadSpec(t, tt.file)
			r, err := Translate(spec, opts())
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(spec, before) {
				t.Fatal("Translate changed its input")
			}
			if r.Shape != tt.shape {
				t.Errorf("Shape = %+v; want %+v", r.Shape, tt.shape)
			}
			if !reflect.DeepEqual(r.Shares, tt.shares) {
				t.Errorf("Shares:\n got %+v\nwant %+v", r.Shares, tt.shares)
			}
			if r.IOLimits != tt.limits {
				t.Errorf("IOLimits = %+v; want %+v", r.IOLimits, tt.limits)
			}
			g := r.Spec
			if g.Root.Path != "/run/runxen/shares/rootfs" || g.Root.Readonly != spec.Root.Readonly {
				t.Errorf("root = %+v", g.Root)
			}
			var binds []specs.Mount
			for _, m := range g.Mounts {
				if isBind(m) {
					binds = append(binds, m)
				}
			}
			if !reflect.DeepEqual(binds, tt.binds) {
				t.Errorf("guest binds:\n got %+v\nwant %+v", binds, tt.binds)
			}
			// Kernel mounts pass unchanged, in order; Docker's shm bind
			// became a tmpfs in its place.
			want := kernelMountsOf(spec)
			got := kernelMountsOf(g)
			if len(got) != len(want)+tt.tmpfsAdded {
				t.Fatalf("guest kernel mounts %+v; want %+v plus %d", got, want, tt.tmpfsAdded)
			}
			j := 0
			for _, m := range got {
				if tt.tmpfsAdded > 0 && m.Destination == "/dev/shm" {
					if !reflect.DeepEqual(m, dockerShm) {
						t.Errorf("/dev/shm = %+v; want %+v", m, dockerShm)
					}
					continue
				}
				if !reflect.DeepEqual(m, want[j]) {
					t.Errorf("kernel mount %d = %+v; want %+v", j, m, want[j])
				}
				j++
			}
			if g.Hooks != nil || g.Linux.CgroupsPath != "" || g.Process.ApparmorProfile != "" {
				t.Errorf("host-only fields left: hooks %+v, cgroupsPath %q, apparmor %q", g.Hooks, g.Linux.CgroupsPath, g.Process.ApparmorProfile)
			}
			if g.Linux.Resources != nil && g.Linux.Resources.BlockIO != nil && len(g.Linux.Resources.BlockIO.ThrottleReadIOPSDevice) > 0 {
				t.Error("blockIO throttles left in the guest's spec")
			}
			if !reflect.DeepEqual(normalized(t, g), normalized(t, spec)) {
				gb, _ := json.MarshalIndent(normalized(t, g), "", " ")
				hb, _ := json.MarshalIndent(normalized(t, spec), "", " ")
				t.Errorf("fields changed that the translation must pass unchanged:\nguest %s\nhost %s", gb, hb)
			}
			for _, n := range tt.notes {
				found := false
				for _, have := range r.Notes {
					found = found || strings.Contains(have, n)
				}
				if !found {
					t.Errorf("no note about %q in %q", n, r.Notes)
				}
			}
			// The guest agent accepts the result as is.
			if err := checkAsAgent(g); err != nil {
				t.Errorf("the agent would refuse the guest's spec: %v", err)
			}
		})
	}
}

// checkAsAgent runs the agent's own check on the spec as it travels: JSON.
func checkAsAgent(g *specs.Spec) error {
	b, err := json.Marshal(g)
	if err != nil {
		return err
	}
	var s specs.Spec
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	_, err = speccheckSpec(&s)
	return err
}

func TestTranslateRefuses(t *testing.T) {
	i64 := func(v int64) *int64 { return &v }
	u16 := func(v uint16) *uint16 { return &v }
	tests := []struct {
		name   string
		change func(s *specs.Spec)
		kind   error
		fields []string // each must be named
	}{
		{
			name:   "memory below the minimum (--memory 4m)",
			change: func(s *specs.Spec) { s.Linux.Resources.Memory.Limit = i64(4 << 20) },
			kind:   errdefs.ErrInvalidArgument,
			fields: []string{"linux.resources.memory.limit: 4 MiB is below runxen's minimum of 16 MiB (guest.min_memory_mib)"},
		},
		{
			name:   "memory beyond Xen",
			change: func(s *specs.Spec) { s.Linux.Resources.Memory.Limit = i64(1 << 50) },
			kind:   errdefs.ErrInvalidArgument,
			fields: []string{"linux.resources.memory.limit: 1048576 GiB is more than a Xen domain can have"},
		},
		{
			name:   "negative memory",
			change: func(s *specs.Spec) { s.Linux.Resources.Memory.Limit = i64(-5) },
			kind:   errdefs.ErrInvalidArgument,
			fields: []string{"linux.resources.memory.limit: -5 is negative"},
		},
		{
			name: "--ipc container:other",
			change: func(s *specs.Spec) {
				s.Linux.Namespaces[4].Path = "/proc/4242/ns/ipc"
			},
			kind:   errdefs.ErrNotImplemented,
			fields: []string{"linux.namespaces[4].path"},
		},
		{
			name: "--device /dev/fuse",
			change: func(s *specs.Spec) {
				s.Linux.Devices = []specs.LinuxDevice{{Path: "/dev/fuse", Type: "c", Major: 10, Minor: 229}}
			},
			kind:   errdefs.ErrNotImplemented,
			fields: []string{`linux.devices[0]: "/dev/fuse"`},
		},
		{
			name:   "custom AppArmor profile",
			change: func(s *specs.Spec) { s.Process.ApparmorProfile = "my-strict-profile" },
			kind:   errdefs.ErrNotImplemented,
			fields: []string{`process.apparmorProfile: "my-strict-profile"`},
		},
		{
			name:   "custom SELinux type",
			change: func(s *specs.Spec) { s.Process.SelinuxLabel = "system_u:system_r:my_app_t:s0" },
			kind:   errdefs.ErrNotImplemented,
			fields: []string{"process.selinuxLabel"},
		},
		{
			name:   "custom mount label",
			change: func(s *specs.Spec) { s.Linux.MountLabel = "system_u:object_r:my_file_t:s0" },
			kind:   errdefs.ErrNotImplemented,
			fields: []string{"linux.mountLabel"},
		},
		{
			name: "docker socket bind",
			change: func(s *specs.Spec) {
				s.Mounts = append(s.Mounts, specs.Mount{Destination: "/var/run/docker.sock", Type: "bind", Source: "/run/docker.sock", Options: []string{"rbind"}})
			},
			kind:   errdefs.ErrNotImplemented,
			fields: []string{`mounts[10].source: "/run/docker.sock" is a socket`},
		},
		{
			name: "host /dev bind",
			change: func(s *specs.Spec) {
				s.Mounts = append(s.Mounts, specs.Mount{Destination: "/dev/kmsg", Type: "bind", Source: "/dev/kmsg", Options: []string{"bind"}})
			},
			kind:   errdefs.ErrNotImplemented,
			fields: []string{`mounts[10].source: "/dev/kmsg"`},
		},
		{
			name: "--ipc host: the host's /dev/shm",
			change: func(s *specs.Spec) {
				s.Mounts[6].Source = "/dev/shm"
			},
			kind:   errdefs.ErrNotImplemented,
			fields: []string{`mounts[6].source: "/dev/shm"`},
		},
		{
			name: "missing bind source",
			change: func(s *specs.Spec) {
				s.Mounts = append(s.Mounts, specs.Mount{Destination: "/x", Type: "bind", Source: "/srv/nothing"})
			},
			kind:   errdefs.ErrInvalidArgument,
			fields: []string{`mounts[10].source: "/srv/nothing" does not exist`},
		},
		{
			name: "relative bind source",
			change: func(s *specs.Spec) {
				s.Mounts = append(s.Mounts, specs.Mount{Destination: "/x", Type: "none", Source: "data", Options: []string{"rbind"}})
			},
			kind:   errdefs.ErrInvalidArgument,
			fields: []string{"mounts[10].source"},
		},
		{
			name: "rshared propagation",
			change: func(s *specs.Spec) {
				s.Mounts = append(s.Mounts, specs.Mount{Destination: "/data", Type: "bind", Source: "/srv/data", Options: []string{"rbind", "rshared"}})
			},
			kind:   errdefs.ErrNotImplemented,
			fields: []string{`mounts[10].options[1]: "rshared"`},
		},
		{
			name: "overlay mount",
			change: func(s *specs.Spec) {
				s.Mounts = append(s.Mounts, specs.Mount{Destination: "/x", Type: "overlay", Source: "overlay", Options: []string{"lowerdir=/a"}})
			},
			kind:   errdefs.ErrNotImplemented,
			fields: []string{`mounts[10].type: "overlay"`},
		},
		{
			name:   "--cpuset-mems",
			change: func(s *specs.Spec) { s.Linux.Resources.CPU.Mems = "0" },
			kind:   errdefs.ErrNotImplemented,
			fields: []string{`linux.resources.cpu.mems: "0"`},
		},
		{
			name:   "bad cpuset",
			change: func(s *specs.Spec) { s.Linux.Resources.CPU.Cpus = "3-1" },
			kind:   errdefs.ErrInvalidArgument,
			fields: []string{`linux.resources.cpu.cpus: "3-1": CPU range 3-1 is backwards`},
		},
		{
			name:   "--blkio-weight",
			change: func(s *specs.Spec) { s.Linux.Resources.BlockIO.Weight = u16(300) },
			kind:   errdefs.ErrNotImplemented,
			fields: []string{"linux.resources.blockIO.weight"},
		},
		{
			name: "hugepages",
			change: func(s *specs.Spec) {
				s.Linux.Resources.HugepageLimits = []specs.LinuxHugepageLimit{{Pagesize: "2MB", Limit: 1 << 30}}
			},
			kind:   errdefs.ErrNotImplemented,
			fields: []string{"linux.resources.hugepageLimits[0]"},
		},
		{
			name:   "misspelt runxen annotation",
			change: func(s *specs.Spec) { s.Annotations = map[string]string{"io.runxen.io.read-bsp": "5"} },
			kind:   errdefs.ErrInvalidArgument,
			fields: []string{`annotations["io.runxen.io.read-bsp"]`},
		},
		{
			name:   "what the agent refuses (speccheck), refused here",
			change: func(s *specs.Spec) { s.Linux.IntelRdt = &specs.LinuxIntelRdt{ClosID: "x"} },
			kind:   errdefs.ErrInvalidArgument,
			fields: []string{"linux.intelRdt"},
		},
		{
			name:   "no process",
			change: func(s *specs.Spec) { s.Process = nil },
			kind:   errdefs.ErrInvalidArgument,
			fields: []string{"process"},
		},
		{
			name: "every problem at once",
			change: func(s *specs.Spec) {
				s.Linux.Resources.Memory.Limit = i64(1 << 20)
				s.Process.ApparmorProfile = "custom"
				s.Linux.Resources.CPU.Mems = "1"
			},
			fields: []string{"linux.resources.memory.limit", "process.apparmorProfile", "linux.resources.cpu.mems"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := loadSpec(t, "docker26-run.json")
			tt.change(spec)
			r, err := Translate(spec, opts())
			if err == nil {
				t.Fatalf("Translate succeeded: %+v", r)
			}
			if tt.kind != nil && !errors.Is(err, tt.kind) {
				t.Errorf("error %q is not %v", err, tt.kind)
			}
			for _, f := range tt.fields {
				if !strings.Contains(err.Error(), f) {
					t.Errorf("error %q does not name %q", err, f)
				}
			}
		})
	}
}

func TestTranslateChoices(t *testing.T) {
	i64 := func(v int64) *int64 { return &v }
	u64 := func(v uint64) *uint64 { return &v }
	tests := []struct {
		name   string
		change func(s *specs.Spec)
		settle func(o *Options)
		check  func(t *testing.T, r *Result)
	}{
		{
			name:   "memory rounds up to MiB and keeps the exact cgroup limit",
			change: func(s *specs.Spec) { s.Linux.Resources.Memory.Limit = i64(100<<20 + 1) },
			check: func(t *testing.T, r *Result) {
				if r.Shape.ContainerMemoryMiB != 101 || r.Shape.MemoryMiB != 101+128+5 {
					t.Errorf("shape %+v", r.Shape)
				}
				if *r.Spec.Linux.Resources.Memory.Limit != 100<<20+1 {
					t.Errorf("guest limit %d", *r.Spec.Linux.Resources.Memory.Limit)
				}
			},
		},
		{
			name:   "memory -1 is unlimited: the default",
			change: func(s *specs.Spec) { s.Linux.Resources.Memory.Limit = i64(-1) },
			check: func(t *testing.T, r *Result) {
				if r.Shape.ContainerMemoryMiB != 512 {
					t.Errorf("shape %+v", r.Shape)
				}
			},
		},
		{
			name: "config defaults and overhead",
			settle: func(o *Options) {
				g := &o.Settings.Guest
				g.MemoryMiB, g.VCPUs, g.MemoryOverheadMiB, g.MemoryOverheadPercent = 300, 3, 70, 0
			},
			check: func(t *testing.T, r *Result) {
				if r.Shape != (Shape{MemoryMiB: 370, ContainerMemoryMiB: 300, VCPUs: 3}) {
					t.Errorf("shape %+v", r.Shape)
				}
			},
		},
		{
			name:   "the overhead's percentage rounds up",
			settle: func(o *Options) { o.Settings.Guest.MemoryOverheadMiB, o.Settings.Guest.MemoryOverheadPercent = 10, 10 },
			change: func(s *specs.Spec) { s.Linux.Resources.Memory.Limit = i64(1001 << 20) },
			check: func(t *testing.T, r *Result) {
				if r.Shape.MemoryMiB != 1001+10+101 {
					t.Errorf("shape %+v", r.Shape)
				}
			},
		},
		{
			name: "cpuset pins and counts; the guest uses every vCPU",
			change: func(s *specs.Spec) {
				s.Linux.Resources.CPU.Cpus = "0-3,6,6,8-9"
			},
			check: func(t *testing.T, r *Result) {
				if r.Shape.VCPUs != 7 || r.Shape.CPUAffinity != "0-3,6,6,8-9" || r.Spec.Linux.Resources.CPU.Cpus != "" {
					t.Errorf("shape %+v, guest cpus %q", r.Shape, r.Spec.Linux.Resources.CPU.Cpus)
				}
			},
		},
		{
			name: "quota and cpuset: the smaller",
			change: func(s *specs.Spec) {
				s.Linux.Resources.CPU.Cpus = "0-7"
				s.Linux.Resources.CPU.Quota = i64(250000)
			},
			check: func(t *testing.T, r *Result) {
				if r.Shape.VCPUs != 3 || r.Shape.CPUCap != 250 || *r.Spec.Linux.Resources.CPU.Quota != 250000 {
					t.Errorf("shape %+v", r.Shape)
				}
			},
		},
		{
			name: "a quota beyond the cpuset is no cap",
			change: func(s *specs.Spec) {
				s.Linux.Resources.CPU.Cpus = "0"
				s.Linux.Resources.CPU.Quota = i64(250000)
			},
			check: func(t *testing.T, r *Result) {
				if r.Shape.VCPUs != 1 || r.Shape.CPUCap != 0 || r.Shape.CPUAffinity != "0" {
					t.Errorf("shape %+v", r.Shape)
				}
			},
		},
		{
			name: "quota with its own period",
			change: func(s *specs.Spec) {
				s.Linux.Resources.CPU.Quota, s.Linux.Resources.CPU.Period = i64(50000), u64(20000)
			},
			check: func(t *testing.T, r *Result) {
				if r.Shape.VCPUs != 3 || r.Shape.CPUCap != 250 {
					t.Errorf("shape %+v", r.Shape)
				}
			},
		},
		{
			name:   "a huge quota stops at Xen's vCPU limit",
			change: func(s *specs.Spec) { s.Linux.Resources.CPU.Quota = i64(1 << 40) },
			check: func(t *testing.T, r *Result) {
				if r.Shape.VCPUs != 128 {
					t.Errorf("shape %+v", r.Shape)
				}
			},
		},
		{
			name:   "shares map to Xen weight, clamped",
			change: func(s *specs.Spec) { s.Linux.Resources.CPU.Shares = u64(2) },
			check: func(t *testing.T, r *Result) {
				if r.Shape.CPUWeight != 1 || *r.Spec.Linux.Resources.CPU.Shares != 2 {
					t.Errorf("shape %+v", r.Shape)
				}
			},
		},
		{
			name: "network namespace path stays on the host",
			change: func(s *specs.Spec) {
				s.Linux.Namespaces[1].Path = "/var/run/netns/cni-1234"
			},
			check: func(t *testing.T, r *Result) {
				ns := r.Spec.Linux.Namespaces[1]
				if ns.Type != specs.NetworkNamespace || ns.Path != "" {
					t.Errorf("guest netns %+v", ns)
				}
			},
		},
		{
			name:   "a /dev/shm bind that is no tmpfs is a share",
			change: func(s *specs.Spec) { s.Mounts[6].Source = "/srv/notshm" },
			check: func(t *testing.T, r *Result) {
				m := r.Spec.Mounts[6]
				if m.Destination != "/dev/shm" || m.Source != "/run/runxen/shares/vol0" || r.Shares[1].HostDir != "/srv/notshm" {
					t.Errorf("mount %+v, shares %+v", m, r.Shares)
				}
			},
		},
		{
			name: "the same directory read-only and read-write: two shares",
			change: func(s *specs.Spec) {
				s.Mounts = append(s.Mounts,
					specs.Mount{Destination: "/a", Type: "bind", Source: "/srv/data/", Options: []string{"rbind", "ro"}},
					specs.Mount{Destination: "/b", Type: "bind", Source: "/srv/data", Options: []string{"ro", "rw"}},
					specs.Mount{Destination: "/c", Source: "/srv/data", Options: []string{"rbind", "rro"}})
			},
			check: func(t *testing.T, r *Result) {
				want := []Share{
					{Tag: "vol0", HostDir: "/srv/data", GuestPath: "/run/runxen/shares/vol0", ReadOnly: true},
					{Tag: "vol1", HostDir: "/srv/data", GuestPath: "/run/runxen/shares/vol1"},
				}
				if !reflect.DeepEqual(r.Shares[2:], want) {
					t.Errorf("shares %+v", r.Shares[2:])
				}
				n := len(r.Spec.Mounts)
				if r.Spec.Mounts[n-3].Source != want[0].GuestPath || r.Spec.Mounts[n-2].Source != want[1].GuestPath || r.Spec.Mounts[n-1].Source != want[0].GuestPath {
					t.Errorf("mounts %+v", r.Spec.Mounts[n-3:])
				}
			},
		},
		{
			name: "annotations beat throttles and the config",
			change: func(s *specs.Spec) {
				s.Annotations = map[string]string{"io.runxen.io.write-bps": "0", "io.runxen.io.read-iops": "77"}
				s.Linux.Resources.BlockIO.ThrottleWriteBpsDevice = []specs.LinuxThrottleDevice{{Rate: 5}}
			},
			settle: func(o *Options) {
				o.Settings.Shares.IOLimits = config.IOLimits{ReadBytesPerSec: 9, WriteBytesPerSec: 9}
			},
			check: func(t *testing.T, r *Result) {
				if want := (iolimit.Limits{ReadBytesPerSec: 9, ReadOpsPerSec: 77}); r.IOLimits != want {
					t.Errorf("limits %+v; want %+v", r.IOLimits, want)
				}
			},
		},
		{
			name: "zero hugepage limits are dropped",
			change: func(s *specs.Spec) {
				s.Linux.Resources.HugepageLimits = []specs.LinuxHugepageLimit{{Pagesize: "2MB"}, {Pagesize: "1GB"}}
			},
			check: func(t *testing.T, r *Result) {
				if r.Spec.Linux.Resources.HugepageLimits != nil {
					t.Errorf("guest hugepageLimits %+v", r.Spec.Linux.Resources.HugepageLimits)
				}
			},
		},
		{
			name:   "a tag prefix keeps containers apart",
			settle: func(o *Options) { o.TagPrefix = "c1-" },
			check: func(t *testing.T, r *Result) {
				if r.Shares[0].Tag != "c1-rootfs" || r.Spec.Root.Path != "/run/runxen/shares/c1-rootfs" ||
					r.Shares[1].Tag != "c1-files-rw" || r.Shares[1].HostDir != stageDir+"/c1-files-rw" {
					t.Errorf("shares %+v", r.Shares)
				}
			},
		},
		{
			name:   "no root in the host spec",
			change: func(s *specs.Spec) { s.Root = nil },
			check: func(t *testing.T, r *Result) {
				if r.Spec.Root == nil || r.Spec.Root.Path != "/run/runxen/shares/rootfs" {
					t.Errorf("root %+v", r.Spec.Root)
				}
			},
		},
		{
			name: "unconfined and spc_t are dropped",
			change: func(s *specs.Spec) {
				s.Process.ApparmorProfile, s.Process.SelinuxLabel = "unconfined", "system_u:system_r:spc_t:s0"
			},
			check: func(t *testing.T, r *Result) {
				if r.Spec.Process.ApparmorProfile != "" || r.Spec.Process.SelinuxLabel != "" {
					t.Errorf("process %+v", r.Spec.Process)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := loadSpec(t, "docker26-run.json")
			if tt.change != nil {
				tt.change(spec)
			}
			o := opts()
			if tt.settle != nil {
				tt.settle(&o)
			}
			r, err := Translate(spec, o)
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, r)
			if err := checkAsAgent(r.Spec); err != nil {
				t.Errorf("the agent would refuse: %v", err)
			}
		})
	}
}

func TestTranslateBadOptions(t *testing.T) {
	spec := loadSpec(t, "ctr2-run.json")
	for _, o := range []Options{
		{RootfsDir: "rootfs", StagingDir: stageDir, Settings: config.Default()},
		{RootfsDir: rootfsDir, StagingDir: "", Settings: config.Default()},
		{RootfsDir: rootfsDir, StagingDir: stageDir},
		{RootfsDir: rootfsDir, StagingDir: stageDir, Settings: config.Default(), TagPrefix: strings.Repeat("p", 60)},
		{RootfsDir: rootfsDir, StagingDir: stageDir, Settings: config.Default(), TagPrefix: "a/b"},
	} {
		if _, err := Translate(spec, o); err == nil {
			t.Errorf("Translate with %+v succeeded", o)
		}
	}
	if _, err := Translate(nil, opts()); err == nil {
		t.Error("Translate(nil) succeeded")
	}
}

func fs0755dir() os.FileMode { return os.ModeDir | 0o1777 }
func fsSocket() os.FileMode  { return os.ModeSocket | 0o660 }
