package speccheck

import (
	"errors"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-spec/specs-go/features"
)

// baseSpec is roughly what `ctr run` or dockerd send, minus host-only parts.
func baseSpec() *specs.Spec {
	return &specs.Spec{
		Version: "1.2.0",
		Process: &specs.Process{Args: []string{"/bin/sh"}, Cwd: "/", Env: []string{"PATH=/bin"}},
		Root:    &specs.Root{Path: "/run/runxen/rootfs/c1"},
		Linux: &specs.Linux{
			Namespaces: []specs.LinuxNamespace{{Type: "pid"}, {Type: "ipc"}, {Type: "uts"}, {Type: "mount"}, {Type: "network"}},
			Resources:  &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr(int64(64 << 20))}},
		},
	}
}

func ptr[T any](v T) *T { return &v }

func TestSpec(t *testing.T) {
	runc12 := ForRunc("runc version 1.2.5\ncommit: x\nspec: 1.2.0", nil)
	tests := []struct {
		name   string
		mutate func(*specs.Spec)
		caps   Capabilities
		// wantFields lists every field the error must name, in order; nil
		// means the spec is accepted.
		wantFields []string
		wantNotes  int
		check      func(t *testing.T, s *specs.Spec)
	}{
		{name: "baseline accepted", mutate: func(*specs.Spec) {}},
		{name: "nil spec", mutate: nil, wantFields: []string{"spec"}},
		{name: "ociVersion 2", mutate: func(s *specs.Spec) { s.Version = "2.0.0" }, wantFields: []string{"ociVersion"}},
		{name: "no process", mutate: func(s *specs.Spec) { s.Process = nil }, wantFields: []string{"process"}},
		{name: "empty args", mutate: func(s *specs.Spec) { s.Process.Args = nil }, wantFields: []string{"process.args"}},
		{name: "relative cwd", mutate: func(s *specs.Spec) { s.Process.Cwd = "home" }, wantFields: []string{"process.cwd"}},
		{name: "no root", mutate: func(s *specs.Spec) { s.Root = nil }, wantFields: []string{"root.path"}},
		{name: "relative root", mutate: func(s *specs.Spec) { s.Root.Path = "rootfs" }, wantFields: []string{"root.path"}},
		{name: "no linux", mutate: func(s *specs.Spec) { s.Linux = nil }, wantFields: []string{"linux"}},
		{name: "windows section", mutate: func(s *specs.Spec) { s.Windows = &specs.Windows{} }, wantFields: []string{"windows"}},
		{name: "empty hooks struct is fine", mutate: func(s *specs.Spec) { s.Hooks = &specs.Hooks{} }},
		{
			name: "every hook kind named",
			mutate: func(s *specs.Spec) {
				h := []specs.Hook{{Path: "/usr/bin/true"}}
				//lint:ignore SA1019 dockerd still sends prestart hooks
				s.Hooks = &specs.Hooks{Prestart: h, CreateRuntime: h, CreateContainer: h, StartContainer: h, Poststart: h, Poststop: h}
			},
			wantFields: []string{"hooks.prestart", "hooks.createRuntime", "hooks.createContainer", "hooks.startContainer", "hooks.poststart", "hooks.poststop"},
		},
		{
			name:       "namespace path (docker's shared netns)",
			mutate:     func(s *specs.Spec) { s.Linux.Namespaces[4].Path = "/proc/42/ns/net" },
			wantFields: []string{"linux.namespaces[4].path"},
		},
		{
			name: "unknown namespace type",
			mutate: func(s *specs.Spec) {
				s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: "cpu"})
			},
			wantFields: []string{"linux.namespaces[5].type"},
		},
		{
			name: "duplicate namespace",
			mutate: func(s *specs.Spec) {
				s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: "pid"})
			},
			wantFields: []string{"linux.namespaces[5].type"},
		},
		{
			name: "time namespace dropped on runc 1.1",
			mutate: func(s *specs.Spec) {
				s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: "time"})
			},
			wantNotes: 1,
			check: func(t *testing.T, s *specs.Spec) {
				if len(s.Linux.Namespaces) != 5 {
					t.Errorf("namespaces %v, want the time namespace gone", s.Linux.Namespaces)
				}
			},
		},
		{
			name: "time namespace kept on runc 1.2",
			caps: runc12,
			mutate: func(s *specs.Spec) {
				s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: "time"})
			},
			check: func(t *testing.T, s *specs.Spec) {
				if len(s.Linux.Namespaces) != 6 {
					t.Errorf("namespaces %v, want time kept", s.Linux.Namespaces)
				}
			},
		},
		{
			name: "time namespace with offsets rejected on runc 1.1",
			mutate: func(s *specs.Spec) {
				s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: "time"})
				s.Linux.TimeOffsets = map[string]specs.LinuxTimeOffset{"monotonic": {Secs: 10}}
			},
			wantFields: []string{"linux.namespaces[5].type", "linux.timeOffsets"},
		},
		{
			name: "time namespace path",
			caps: runc12,
			mutate: func(s *specs.Spec) {
				s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: "time", Path: "/proc/1/ns/time"})
			},
			wantFields: []string{"linux.namespaces[5].path"},
		},
		{name: "intelRdt", mutate: func(s *specs.Spec) { s.Linux.IntelRdt = &specs.LinuxIntelRdt{} }, wantFields: []string{"linux.intelRdt"}},
		{name: "mountLabel", mutate: func(s *specs.Spec) { s.Linux.MountLabel = "system_u:object_r:container_file_t:s0" }, wantFields: []string{"linux.mountLabel"}},
		{name: "apparmor (docker-default)", mutate: func(s *specs.Spec) { s.Process.ApparmorProfile = "docker-default" }, wantFields: []string{"process.apparmorProfile"}},
		{name: "selinux label", mutate: func(s *specs.Spec) { s.Process.SelinuxLabel = "x" }, wantFields: []string{"process.selinuxLabel"}},
		{name: "ioPriority on 1.1", mutate: func(s *specs.Spec) { s.Process.IOPriority = &specs.LinuxIOPriority{Class: "IOPRIO_CLASS_BE"} }, wantFields: []string{"process.ioPriority"}},
		{name: "ioPriority on 1.2", caps: runc12, mutate: func(s *specs.Spec) { s.Process.IOPriority = &specs.LinuxIOPriority{Class: "IOPRIO_CLASS_BE"} }},
		{name: "scheduler on 1.1", mutate: func(s *specs.Spec) { s.Process.Scheduler = &specs.Scheduler{} }, wantFields: []string{"process.scheduler"}},
		{name: "execCPUAffinity on 1.1", mutate: func(s *specs.Spec) { s.Process.ExecCPUAffinity = &specs.CPUAffinity{} }, wantFields: []string{"process.execCPUAffinity"}},
		{name: "personality on 1.1", mutate: func(s *specs.Spec) { s.Linux.Personality = &specs.LinuxPersonality{Domain: "LINUX32"} }, wantFields: []string{"linux.personality"}},
		{name: "netDevices on 1.2", caps: runc12, mutate: func(s *specs.Spec) { s.Linux.NetDevices = map[string]specs.LinuxNetDevice{"eth1": {}} }, wantFields: []string{"linux.netDevices"}},
		{name: "memoryPolicy", mutate: func(s *specs.Spec) { s.Linux.MemoryPolicy = &specs.LinuxMemoryPolicy{} }, wantFields: []string{"linux.memoryPolicy"}},
		{
			name: "idmapped mount on 1.1",
			mutate: func(s *specs.Spec) {
				s.Mounts = []specs.Mount{{Destination: "/d", UIDMappings: []specs.LinuxIDMapping{{Size: 1}}}}
			},
			wantFields: []string{"mounts[0].uidMappings"},
		},
		{name: "seccomp listener", mutate: func(s *specs.Spec) { s.Linux.Seccomp = &specs.LinuxSeccomp{ListenerPath: "/run/agent.sock"} }, wantFields: []string{"linux.seccomp.listenerPath"}},
		{name: "seccomp filter fine", mutate: func(s *specs.Spec) { s.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActErrno} }},
		{name: "rdma", mutate: func(s *specs.Spec) { s.Linux.Resources.Rdma = map[string]specs.LinuxRdma{"mlx": {}} }, wantFields: []string{"linux.resources.rdma"}},
		{name: "net_cls", mutate: func(s *specs.Spec) { s.Linux.Resources.Network = &specs.LinuxNetwork{ClassID: ptr(uint32(1))} }, wantFields: []string{"linux.resources.network"}},
		{name: "empty network section fine", mutate: func(s *specs.Spec) { s.Linux.Resources.Network = &specs.LinuxNetwork{} }},
		{
			name: "cgroup v1 memory knobs",
			mutate: func(s *specs.Spec) {
				m := s.Linux.Resources.Memory
				//lint:ignore SA1019 the deprecated field must be refused
				m.Kernel, m.KernelTCP, m.Swappiness = ptr(int64(1)), ptr(int64(1)), ptr(uint64(60))
				m.DisableOOMKiller, m.UseHierarchy = ptr(true), ptr(true)
			},
			wantFields: []string{"linux.resources.memory.kernel", "linux.resources.memory.kernelTCP", "linux.resources.memory.swappiness", "linux.resources.memory.disableOOMKiller", "linux.resources.memory.useHierarchy"},
		},
		{name: "disableOOMKiller=false is fine (dockerd sends it)", mutate: func(s *specs.Spec) { s.Linux.Resources.Memory.DisableOOMKiller = ptr(false) }},
		{name: "realtime cpu", mutate: func(s *specs.Spec) { s.Linux.Resources.CPU = &specs.LinuxCPU{RealtimeRuntime: ptr(int64(950000))} }, wantFields: []string{"linux.resources.cpu.realtimeRuntime"}},
		{name: "zero realtime cpu fine", mutate: func(s *specs.Spec) { s.Linux.Resources.CPU = &specs.LinuxCPU{RealtimeRuntime: ptr(int64(0))} }},
		{name: "cpu burst on 1.1", mutate: func(s *specs.Spec) { s.Linux.Resources.CPU = &specs.LinuxCPU{Burst: ptr(uint64(1))} }, wantFields: []string{"linux.resources.cpu.burst"}},
		{name: "cpu quota fine", mutate: func(s *specs.Spec) {
			s.Linux.Resources.CPU = &specs.LinuxCPU{Quota: ptr(int64(50000)), Period: ptr(uint64(100000))}
		}},
		{name: "leafWeight", mutate: func(s *specs.Spec) { s.Linux.Resources.BlockIO = &specs.LinuxBlockIO{LeafWeight: ptr(uint16(10))} }, wantFields: []string{"linux.resources.blockIO.leafWeight"}},
		{
			name: "everything runc honours passes",
			mutate: func(s *specs.Spec) {
				s.Hostname = "c1"
				s.Root.Readonly = true
				s.Process.User = specs.User{UID: 1000, GID: 1000, Umask: ptr(uint32(0o22)), AdditionalGids: []uint32{10}}
				s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Hard: 1024, Soft: 1024}}
				s.Process.Capabilities = &specs.LinuxCapabilities{Bounding: []string{"CAP_CHOWN"}}
				s.Process.NoNewPrivileges = true
				s.Process.OOMScoreAdj = ptr(100)
				s.Linux.Sysctl = map[string]string{"net.ipv4.ip_forward": "1"}
				s.Linux.MaskedPaths = []string{"/proc/kcore"}
				s.Linux.ReadonlyPaths = []string{"/proc/sys"}
				s.Linux.Resources.Pids = &specs.LinuxPids{Limit: ptr(int64(100))}
				s.Mounts = []specs.Mount{{Destination: "/proc", Type: "proc", Source: "proc"}}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s *specs.Spec
			if tt.mutate != nil {
				s = baseSpec()
				tt.mutate(s)
			}
			caps := tt.caps
			if caps.Namespaces == nil {
				caps = Runc11()
			}
			notes, err := Spec(s, caps)
			if len(notes) != tt.wantNotes {
				t.Errorf("notes %q, want %d", notes, tt.wantNotes)
			}
			checkFields(t, err, tt.wantFields)
			if tt.check != nil {
				tt.check(t, s)
			}
		})
	}
}

// checkFields asserts that err is nil when want is empty, and otherwise
// joins exactly one InvalidArgument FieldError per wanted field, in order.
func checkFields(t *testing.T, err error, want []string) {
	t.Helper()
	if len(want) == 0 {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return
	}
	if !errdefs.IsInvalidArgument(err) {
		t.Fatalf("err = %v, want InvalidArgument", err)
	}
	var got []string
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var fe *FieldError
		if !errors.As(e, &fe) {
			t.Fatalf("%v is not a FieldError", e)
		}
		got = append(got, fe.Field)
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("fields %q, want %q (err: %v)", got, want, err)
	}
	for _, f := range want {
		if !strings.Contains(err.Error(), f+": ") {
			t.Errorf("message %q does not name %s", err, f)
		}
	}
}

func TestProcessAndResources(t *testing.T) {
	caps := Runc11()
	checkFields(t, Process(&specs.Process{Args: []string{"ls"}, Cwd: "/"}, caps), nil)
	checkFields(t, Process(nil, caps), []string{"process"})
	checkFields(t, Process(&specs.Process{Cwd: "/", ApparmorProfile: "p"}, caps), []string{"process.args", "process.apparmorProfile"})
	checkFields(t, Resources(nil, caps), nil)
	checkFields(t, Resources(&specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptr(int64(5))}}, caps), nil)
	checkFields(t, Resources(&specs.LinuxResources{Memory: &specs.LinuxMemory{Swappiness: ptr(uint64(1))}}, caps), []string{"resources.memory.swappiness"})
}

func TestForRunc(t *testing.T) {
	enabled := true
	disabled := false
	tests := []struct {
		name       string
		version    string
		feat       *features.Features
		wantTime   bool
		wantIOPrio bool
		wantIDMap  bool
		wantNetDev bool
	}{
		{name: "debian trixie", version: "runc version 1.1.15+ds1\ncommit: 1.1.15+ds1-2\nspec: 1.0.2-dev\ngo: go1.24.4\nlibseccomp: 2.6.0"},
		{name: "garbage is 1.1", version: "oops"},
		{name: "1.2", version: "runc version 1.2.5", wantTime: true, wantIOPrio: true, wantIDMap: true},
		{name: "1.3", version: "runc version 1.3.0", wantTime: true, wantIOPrio: true, wantIDMap: true, wantNetDev: true},
		{name: "2.0", version: "runc version 2.0.0", wantTime: true, wantIOPrio: true, wantIDMap: true, wantNetDev: true},
		{
			name:    "features override the version guess",
			version: "runc version 1.2.5",
			feat: &features.Features{Linux: &features.Linux{
				Namespaces:      []string{"mount", "pid"},
				MountExtensions: &features.MountExtensions{IDMap: &features.IDMap{Enabled: &disabled}},
			}},
			wantIOPrio: true,
		},
		{
			name:    "features with time",
			version: "runc version 1.2.5",
			feat: &features.Features{Linux: &features.Linux{
				Namespaces:      []string{"mount", "pid", "time"},
				MountExtensions: &features.MountExtensions{IDMap: &features.IDMap{Enabled: &enabled}},
			}},
			wantTime: true, wantIOPrio: true, wantIDMap: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ForRunc(tt.version, tt.feat)
			if c.Namespaces["time"] != tt.wantTime || c.TimeOffsets != tt.wantTime {
				t.Errorf("time: ns %v offsets %v, want %v", c.Namespaces["time"], c.TimeOffsets, tt.wantTime)
			}
			if c.IOPriority != tt.wantIOPrio || c.IDMappedMounts != tt.wantIDMap || c.NetDevices != tt.wantNetDev {
				t.Errorf("caps %+v", c)
			}
			if tt.feat == nil && !c.Namespaces["pid"] {
				t.Error("pid namespace missing")
			}
		})
	}
}
