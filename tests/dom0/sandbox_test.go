//go:build dom0

package dom0

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/containerd/errdefs"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	agent "github.com/runxen/runxen/guest-agent/api/v1"
	"github.com/runxen/runxen/runtime/agentclient"
	"github.com/runxen/runxen/runtime/config"
	"github.com/runxen/runxen/runtime/sandbox"
	"github.com/runxen/runxen/runtime/xen"
)

// sandboxSettings is runxen's default configuration with the lab's guest
// images, a private state directory and the lab's slow boots allowed for.
func sandboxSettings(t *testing.T, base string) config.Config {
	s := config.Default()
	s.Guest.Kernel = guestImage(t, "vmlinuz")
	s.Guest.Initramfs = guestImage(t, "agent.initramfs")
	s.StateDir = filepath.Join(base, "state")
	s.Timeouts.Boot = config.Duration{Duration: bootTimeout}
	s.Timeouts.AgentCall = config.Duration{Duration: callTimeout}
	s.Timeouts.Destroy = config.Duration{Duration: stepTimeout}
	return s
}

// sandboxBundle is a bundle as Docker gives one: a busybox root file
// system, a volume, a bind-mounted writable file (resolv.conf) and a
// read-only one, a memory limit, a hook and a cgroups path for the host.
type sandboxBundle struct {
	dir, rootfs, vol, resolv, ro string
	spec                         *specs.Spec
}

func newSandboxBundle(t *testing.T, base string, memMiB int64, args ...string) *sandboxBundle {
	b := &sandboxBundle{dir: filepath.Join(base, "bundle")}
	b.rootfs = filepath.Join(b.dir, "rootfs")
	b.vol = filepath.Join(base, "vol")
	b.resolv = filepath.Join(base, "resolv.conf")
	b.ro = filepath.Join(base, "app.ini")
	for _, d := range []string{b.rootfs, b.vol} {
		must(t, os.MkdirAll(d, 0o755))
	}
	buildRootfs(t, b.rootfs)
	must(t, os.WriteFile(filepath.Join(b.vol, "in"), []byte("from the host\n"), 0o644))
	must(t, os.WriteFile(b.resolv, []byte("nameserver 192.0.2.53\n"), 0o644))
	must(t, os.WriteFile(b.ro, []byte("[app]\nmode=ro\n"), 0o644))
	s := agentclient.DefaultSpec("rootfs", args, false)
	s.Process = shareProcess(args)
	limit := memMiB << 20
	s.Linux.Resources.Memory = &specs.LinuxMemory{Limit: &limit}
	s.Linux.CgroupsPath = "system.slice:docker:sandboxtest"
	s.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{{Path: "/bin/false"}}}
	s.Mounts = append(s.Mounts,
		specs.Mount{Destination: "/data", Type: "bind", Source: b.vol, Options: []string{"rbind"}},
		specs.Mount{Destination: "/etc/resolv.conf", Type: "bind", Source: b.resolv, Options: []string{"rbind", "rprivate"}},
		specs.Mount{Destination: "/etc/app.ini", Type: "bind", Source: b.ro, Options: []string{"rbind", "ro"}},
		specs.Mount{Destination: "/fill", Type: "tmpfs", Source: "tmpfs", Options: []string{"size=" + strconv.FormatInt(memMiB*4, 10) + "m"}})
	b.spec = s
	return b
}

// TestSandbox proves runtime/sandbox alone, against real Xen: a bundle in
// dom0 becomes a guest with the container created in it; the container
// runs from the shared root file system, sees its volume and bind-mounted
// files both ways, gets its memory limit, can use it, is paused with its
// writes flushed, is resized live; Destroy leaves nothing in xl,
// xenstore, the mount table or the state directory. It also measures what
// the guest takes besides the container (guest.memory_overhead_mib).
func TestSandbox(t *testing.T) {
	h := newHost(t)
	fdsBefore := xenFDs(t)
	base := shareBase(t)
	const memMiB = 128
	b := newSandboxBundle(t, base, memMiB, "/bin/sh", "-c",
		`echo hello; cat /data/in; echo written > /data/out; cat /etc/resolv.conf; cat /etc/app.ini;
		 echo x >> /etc/app.ini && echo ro-written; echo "memory.max $(cat /sys/fs/cgroup/memory.max)"; echo "nproc $(nproc)"; exit 7`)
	settings := sandboxSettings(t, base)
	cfg := sandbox.Config{ID: "sbx1", Namespace: "dom0test", Settings: settings, Toolstack: h.ts, Store: h.xs}
	ctx := ctxFor(t, bootTimeout+stepTimeout)

	start := time.Now()
	s, err := sandbox.Create(ctx, cfg, sandbox.ContainerConfig{ID: "c1", Bundle: b.dir, Spec: b.spec, RootfsDir: b.rootfs})
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	created := time.Since(start)
	g := &guest{id: s.DomID(), name: s.DomainName()}
	destroyed := false
	t.Cleanup(func() {
		if !destroyed {
			s.Destroy(context.Background())
		}
	})
	info, err := h.ts.Info(ctx, g.id)
	if err != nil || info.State != xen.StateRunning || int64(info.MemoryMiB) < settings.Guest.DomainMemoryMiB(memMiB)-8 {
		t.Fatalf("domain %s: %+v, %v", g.name, info, err)
	}
	t.Logf("Create (xl create, shares, boot, agent, mounts, CreateContainer) took %s; domain %d %q, %d MiB, %d vCPU",
		created.Round(time.Millisecond), g.id, g.name, info.MemoryMiB, info.VCPUs)
	if g.name != "runxen-dom0test-sbx1" {
		t.Errorf("domain name %q", g.name)
	}
	svc := s.Agent()

	t.Run("init-output-and-status", func(t *testing.T) {
		ctx := ctxFor(t, stepTimeout)
		if _, err := svc.StartContainer(ctx, &agent.StartContainerRequest{ContainerId: "c1"}); err != nil {
			t.Fatal(err)
		}
		p := collect(svc, "c1", "")
		st := p.wait(t)
		out := p.stdout.String()
		t.Logf("init: status %d\nstdout:\n%s\nstderr:\n%s", st, out, p.stderr)
		if st != 7 {
			t.Errorf("exit status %d, want 7", st)
		}
		for _, want := range []string{"hello\n", "from the host\n", "nameserver 192.0.2.53\n", "mode=ro\n",
			fmt.Sprintf("memory.max %d\n", memMiB<<20), "nproc 1\n"} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q", want)
			}
		}
		if strings.Contains(out, "ro-written") {
			t.Error("the read-only file bind was written")
		}
		if got, err := os.ReadFile(filepath.Join(b.vol, "out")); err != nil || string(got) != "written\n" {
			t.Errorf("volume write seen on the host: %q, %v", got, err)
		}
		if got, _ := os.ReadFile(b.ro); string(got) != "[app]\nmode=ro\n" {
			t.Errorf("read-only file on the host changed: %q", got)
		}
	})

	// What needs a running container (exec, pause, update, the memory it
	// can use) is TestSandboxLive's.
	must(t, s.Destroy(ctx))
	destroyed = true
	<-s.Done()
	checkNothingLeft(t, h, g, settings, fdsBefore)
	must(t, s.Destroy(ctx)) // idempotent
}

// liveSandbox is a sandbox whose container runs until the sandbox is
// destroyed.
type liveSandbox struct {
	h         *host
	s         *sandbox.Sandbox
	g         *guest
	svc       agent.AgentService
	b         *sandboxBundle
	settings  config.Config
	fdsBefore int
}

// startLiveSandbox creates sandbox id with container cid limited to
// memMiB, and starts it; Destroy runs at the end of the test whatever
// happens (it is idempotent).
func startLiveSandbox(t *testing.T, id, cid string, memMiB int64) *liveSandbox {
	t.Helper()
	l := &liveSandbox{h: newHost(t)}
	l.fdsBefore = xenFDs(t)
	base := shareBase(t)
	l.b = newSandboxBundle(t, base, memMiB, "/bin/sh", "-c", "echo ready; while true; do sleep 1; done")
	l.settings = sandboxSettings(t, base)
	cfg := sandbox.Config{ID: id, Namespace: "dom0test", Settings: l.settings, Toolstack: l.h.ts, Store: l.h.xs}
	ctx := ctxFor(t, bootTimeout+stepTimeout)
	s, err := sandbox.Create(ctx, cfg, sandbox.ContainerConfig{ID: cid, Bundle: l.b.dir, Spec: l.b.spec, RootfsDir: l.b.rootfs})
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	t.Cleanup(func() { s.Destroy(context.Background()) })
	l.s, l.g, l.svc = s, &guest{id: s.DomID(), name: s.DomainName()}, s.Agent()
	if _, err := l.svc.StartContainer(ctx, &agent.StartContainerRequest{ContainerId: cid}); err != nil {
		t.Fatal(err)
	}
	must(t, collect(l.svc, cid, "").stdout.waitFor(ctxFor(t, stepTimeout), "ready\n"))
	return l
}

// destroy destroys the sandbox and checks that nothing is left.
func (l *liveSandbox) destroy(t *testing.T) {
	t.Helper()
	must(t, l.s.Destroy(ctxFor(t, stepTimeout)))
	select {
	case <-l.s.Done():
	case <-time.After(time.Minute):
		t.Error("Done not closed after Destroy")
	}
	checkNothingLeft(t, l.h, l.g, l.settings, l.fdsBefore)
}

// TestSandboxLive keeps a container running to prove pause with a flush,
// resume, Update and the memory the container can really use; it
// measures the guest's memory overhead.
func TestSandboxLive(t *testing.T) {
	const memMiB = 128
	l := startLiveSandbox(t, "sbx2", "c2", memMiB)
	h, g, s, svc, b, settings := l.h, l.g, l.s, l.svc, l.b, l.settings

	t.Run("memory-overhead", func(t *testing.T) {
		measureMemory(t, h, g, svc, "c2", memMiB)
	})

	t.Run("pause-flushes", func(t *testing.T) {
		ctx := ctxFor(t, stepTimeout)
		mustSh(t, svc, "c2", "echo before-pause > /data/paused; echo root-write > /root-file")
		must(t, s.Pause(ctx, "c2"))
		for p, want := range map[string]string{filepath.Join(b.vol, "paused"): "before-pause\n", filepath.Join(b.rootfs, "root-file"): "root-write\n"} {
			if got, err := os.ReadFile(p); err != nil || string(got) != want {
				t.Errorf("%s while paused: %q, %v", p, got, err)
			}
		}
		must(t, s.Resume(ctx, "c2"))
		mustSh(t, svc, "c2", "true")
	})

	t.Run("update", func(t *testing.T) {
		ctx := ctxFor(t, stepTimeout)
		before, err := h.ts.Info(ctx, g.id)
		must(t, err)
		newLimit := int64(192 << 20)
		err = s.Update(ctx, "c2", &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &newLimit}})
		if err != nil {
			t.Fatalf("Update: %v", err)
		}
		if got := strings.TrimSpace(mustSh(t, svc, "c2", "cat /sys/fs/cgroup/memory.max")); got != strconv.FormatInt(newLimit, 10) {
			t.Errorf("memory.max after Update %q", got)
		}
		want := uint64(settings.Guest.DomainMemoryMiB(192))
		var after xen.DomainInfo
		deadline := time.Now().Add(2 * time.Minute)
		for {
			after, err = h.ts.Info(ctx, g.id)
			must(t, err)
			if after.MemoryMiB+4 >= want || time.Now().After(deadline) {
				break
			}
			time.Sleep(2 * time.Second)
		}
		t.Logf("Update --memory 192m: domain %d MiB -> %d MiB (target %d)", before.MemoryMiB, after.MemoryMiB, want)
		if after.MemoryMiB+4 < want {
			t.Errorf("the domain has %d MiB after growing to %d", after.MemoryMiB, want)
		}
		// The container can use what it grew to.
		measureMemory(t, h, g, svc, "c2", 192)
		// A field the guest cannot honour changes nothing.
		if err := s.Update(ctx, "c2", &specs.LinuxResources{CPU: &specs.LinuxCPU{Mems: "0"}}); !errors.Is(err, errdefs.ErrNotImplemented) {
			t.Errorf("Update with cpu.mems: %v", err)
		}
	})

	l.destroy(t)
}

// TestSandboxBigMemory measures the guest's overhead for a 1 GiB
// container: the kernel's page structures grow with the domain, so the
// overhead is not quite constant.
func TestSandboxBigMemory(t *testing.T) {
	const memMiB = 1024
	l := startLiveSandbox(t, "sbx3", "c3", memMiB)
	measureMemory(t, l.h, l.g, l.svc, "c3", memMiB)
	l.destroy(t)
}

// TestSandboxBadInput: a spec the guest cannot honour, too little memory, a
// missing kernel and a guest that does not boot (an initramfs without the
// agent, which powers off) each fail with a clear error and leave nothing.
func TestSandboxBadInput(t *testing.T) {
	h := newHost(t)
	fdsBefore := xenFDs(t)
	base := shareBase(t)
	b := newSandboxBundle(t, base, 64, "true")
	tests := []struct {
		name   string
		change func(s *config.Config, spec *specs.Spec)
		want   []string
	}{
		{
			name: "memory 4m",
			change: func(_ *config.Config, spec *specs.Spec) {
				l := int64(4 << 20)
				spec.Linux.Resources.Memory.Limit = &l
			},
			want: []string{"linux.resources.memory.limit: 4 MiB is below runxen's minimum of 16 MiB"},
		},
		{
			name: "a device",
			change: func(_ *config.Config, spec *specs.Spec) {
				spec.Linux.Devices = []specs.LinuxDevice{{Path: "/dev/fuse"}}
			},
			want: []string{"linux.devices[0]"},
		},
		{
			name:   "missing kernel",
			change: func(s *config.Config, _ *specs.Spec) { s.Guest.Kernel = "/usr/share/runxen/guest/none" },
			want:   []string{"/usr/share/runxen/guest/none (guest.kernel in the runxen config)"},
		},
		{
			name: "a guest that does not boot",
			change: func(s *config.Config, _ *specs.Spec) {
				s.Guest.Initramfs = guestImage(t, "hello.initramfs")
			},
			want: []string{"did not boot"},
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			settings := sandboxSettings(t, base)
			spec := *b.spec
			linux := *spec.Linux
			res := *linux.Resources
			mem := *res.Memory
			res.Memory = &mem
			linux.Resources = &res
			spec.Linux = &linux
			tt.change(&settings, &spec)
			id := fmt.Sprintf("bad%d", i)
			cfg := sandbox.Config{ID: id, Namespace: "dom0test", Settings: settings, Toolstack: h.ts, Store: h.xs}
			start := time.Now()
			s, err := sandbox.Create(ctxFor(t, bootTimeout+stepTimeout), cfg, sandbox.ContainerConfig{ID: id, Bundle: b.dir, Spec: &spec, RootfsDir: b.rootfs})
			if err == nil {
				s.Destroy(context.Background())
				t.Fatal("Create succeeded")
			}
			t.Logf("after %s: %v", time.Since(start).Round(time.Millisecond), err)
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q", w)
				}
			}
			checkNothingLeft(t, h, &guest{name: sandbox.DomainName("dom0test", id)}, settings, fdsBefore)
		})
	}
}

// measureMemory logs what the guest takes besides the container (the
// domain's memory minus what the guest still has available with the
// agent and the container running) and proves the container can use 90%
// of its limit (a tmpfs fill, charged to its cgroup) without the guest
// running out.
func measureMemory(t *testing.T, h *host, g *guest, svc agent.AgentService, cid string, limitMiB int64) {
	t.Helper()
	info, err := h.ts.Info(ctxFor(t, stepTimeout), g.id)
	must(t, err)
	mi := meminfo(mustSh(t, svc, cid, "cat /proc/meminfo"))
	avail, total := mi["MemAvailable"]>>20, mi["MemTotal"]>>20
	overhead := int64(info.MemoryMiB) - avail
	t.Logf("memory: domain %d MiB for a %d MiB container; guest MemTotal %d MiB, MemFree %d MiB, MemAvailable %d MiB: "+
		"the guest itself takes %d MiB (kernel, agent, initramfs in its tmpfs root, page tables, runc)",
		info.MemoryMiB, limitMiB, total, mi["MemFree"]>>20, avail, overhead)
	if avail < limitMiB {
		t.Errorf("the guest has %d MiB available, less than the container's %d MiB limit: raise guest.memory_overhead_mib (measured %d MiB)",
			avail, limitMiB, overhead)
	}
	fill := limitMiB * 9 / 10
	res := mustSh(t, svc, cid, fmt.Sprintf("dd if=/dev/zero of=/fill/x bs=1M count=%d 2>/dev/null && grep MemAvailable /proc/meminfo && rm /fill/x && echo filled", fill))
	if !strings.Contains(res, "filled") {
		t.Errorf("filling %d MiB of a %d MiB container: %s", fill, limitMiB, res)
	}
	left := meminfo(res)["MemAvailable"] >> 20
	t.Logf("filled %d MiB of tmpfs in the container; the guest then had %d MiB available", fill, left)
}

// checkNothingLeft fails t if anything of the sandbox is left in dom0: the
// domain (by name and ID), its xenstore nodes (9pfs backends included),
// processes, staged bind mounts, the state directory, Xen device files.
func checkNothingLeft(t *testing.T, h *host, g *guest, settings config.Config, fdsBefore int) {
	t.Helper()
	var left []string
	if g.id != 0 {
		left = leftovers(t, h, g)
	} else {
		doms, err := h.ts.List(ctxFor(t, stepTimeout))
		must(t, err)
		for _, d := range doms {
			if d.Name == g.name {
				left = append(left, fmt.Sprintf("xl list shows %s %q", d, d.Name))
			}
		}
	}
	f, err := os.Open("/proc/self/mountinfo")
	must(t, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if fields := strings.Fields(sc.Text()); len(fields) > 4 && strings.HasPrefix(fields[4], settings.StateDir) {
			left = append(left, "mount: "+fields[4])
		}
	}
	if ents, err := os.ReadDir(settings.StateDir); err == nil && len(ents) > 0 {
		left = append(left, fmt.Sprintf("state directory %s holds %d entries", settings.StateDir, len(ents)))
	}
	if n := xenFDs(t); n > fdsBefore {
		left = append(left, fmt.Sprintf("%d more /dev/xen descriptors open than before", n-fdsBefore))
	}
	if len(left) > 0 {
		t.Errorf("left behind:\n%s", strings.Join(left, "\n"))
	}
}

// meminfo parses /proc/meminfo into bytes by key.
func meminfo(s string) map[string]int64 {
	out := map[string]int64{}
	for _, line := range strings.Split(s, "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && strings.HasSuffix(f[0], ":") {
			v, err := strconv.ParseInt(f[1], 10, 64)
			if err == nil {
				out[strings.TrimSuffix(f[0], ":")] = v << 10
			}
		}
	}
	return out
}
