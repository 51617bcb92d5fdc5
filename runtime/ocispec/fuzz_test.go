package ocispec

import (
	"encoding/json"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	agent "github.com/runxen/runxen/guest-agent/api/v1"
	"github.com/runxen/runxen/runtime/config"
	"github.com/runxen/runxen/runtime/xen"
)

// FuzzTranslate feeds arbitrary specs (seeded with the engines') through
// the translation and checks what must hold of every success: the input
// is untouched, the domain is one Xen accepts, nothing host-only reaches
// the guest, every bind reads from a share, and the agent accepts the
// spec.
func FuzzTranslate(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.json")
	for _, name := range files {
		if b, err := os.ReadFile(name); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"ociVersion":"1.0.0","process":{"args":["x"],"cwd":"/"},"linux":{"resources":{"cpu":{"cpus":"0-8191","quota":1}}}}`))
	f.Add([]byte(`{"ociVersion":"1.0.0","process":{"args":["x"],"cwd":"/"},"linux":{},"mounts":[{"destination":"/a","source":"/srv/data","options":["bind","ro"]},{"destination":"/b","type":"bind","source":"/srv/conf/app.ini"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var spec specs.Spec
		if json.Unmarshal(data, &spec) != nil {
			return
		}
		before, _ := json.Marshal(&spec)
		r, err := Translate(&spec, opts())
		after, _ := json.Marshal(&spec)
		if string(before) != string(after) {
			t.Fatal("Translate changed its input")
		}
		if err != nil {
			return
		}
		cfg := xen.DomainConfig{Name: "runxen-fuzz", Kernel: "/k", MemoryMiB: r.Shape.MemoryMiB, VCPUs: r.Shape.VCPUs,
			CPUWeight: r.Shape.CPUWeight, CPUCap: r.Shape.CPUCap, CPUAffinity: r.Shape.CPUAffinity}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("shape %+v: %v", r.Shape, err)
		}
		if int64(r.Shape.MemoryMiB) != config.Default().Guest.DomainMemoryMiB(int64(r.Shape.ContainerMemoryMiB)) {
			t.Fatalf("shape %+v", r.Shape)
		}
		g := r.Spec
		if g.Hooks != nil || g.Linux.CgroupsPath != "" || g.Process.ApparmorProfile != "" || len(g.Linux.Devices) > 0 {
			t.Fatalf("host-only fields reach the guest: %s", after)
		}
		for _, ns := range g.Linux.Namespaces {
			if ns.Path != "" {
				t.Fatalf("namespace path %q reaches the guest", ns.Path)
			}
		}
		tags := map[string]bool{}
		guestPaths := map[string]Share{}
		for _, s := range r.Shares {
			if err := agent.CheckShareTag(s.Tag); err != nil || tags[s.Tag] {
				t.Fatalf("share %+v: bad or repeated tag (%v)", s, err)
			}
			tags[s.Tag] = true
			if !filepath.IsAbs(s.HostDir) || s.GuestPath != path.Join(GuestShareDir, s.Tag) {
				t.Fatalf("share %+v", s)
			}
			guestPaths[s.GuestPath] = s
		}
		if g.Root.Path != r.Shares[0].GuestPath {
			t.Fatalf("root %q, first share %+v", g.Root.Path, r.Shares[0])
		}
		for _, m := range g.Mounts {
			if !isBind(m) {
				if !kernelMounts[m.Type] {
					t.Fatalf("mount %+v reaches the guest", m)
				}
				continue
			}
			s, ok := guestPaths[m.Source]
			if !ok {
				s, ok = guestPaths[path.Dir(m.Source)]
				if !ok || len(s.Files) == 0 {
					t.Fatalf("bind %+v reads from no share", m)
				}
			}
			ro := false
			for _, o := range m.Options {
				ro = ro && o != "rw" && o != "rrw" || o == "ro" || o == "rro"
			}
			if ro != s.ReadOnly {
				t.Fatalf("bind %+v from share %+v: read-only differs", m, s)
			}
			if strings.HasPrefix(m.Source, GuestShareDir+"/") == false {
				t.Fatalf("bind %+v", m)
			}
		}
		if err := checkAsAgent(g); err != nil {
			t.Fatalf("the agent would refuse: %v", err)
		}
		// Translating the same spec again gives the same result.
		r2, err := Translate(&spec, opts())
		if err != nil || !reflect.DeepEqual(r, r2) {
			t.Fatalf("second translation differs: %v", err)
		}
	})
}

// FuzzCountCPUs: never panics; a count is within bounds.
func FuzzCountCPUs(f *testing.F) {
	for _, s := range []string{"0", "0-3", "0-3,8", "1,1,1", "5-2", "", ",", "8191", "0-8191", "99999", "-1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := countCPUs(s)
		if err == nil && (n < 1 || n > maxCPUID+1) {
			t.Fatalf("countCPUs(%q) = %d", s, n)
		}
	})
}
