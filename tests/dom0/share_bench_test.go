//go:build dom0

package dom0

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	agent "github.com/runxen/runxen/guest-agent/api/v1"
	"github.com/runxen/runxen/runtime/iolimit"
	"github.com/runxen/runxen/runtime/shares"
)

// benchConfig is one way of mounting a share in the guest.
type benchConfig struct {
	msize uint32
	cache agent.ShareCache
}

func (c benchConfig) tag() string {
	return fmt.Sprintf("b%dk-%s", c.msize>>10, strings.ToLower(strings.TrimPrefix(c.cache.String(), "SHARE_CACHE_")))
}

// benchRow is one line of the table.
type benchRow struct {
	name              string
	write, read       toolResult
	small             toolResult
	coherent, checked bool
	note              string
}

func (r benchRow) String() string {
	ops := func(secs float64) string {
		if secs <= 0 {
			return "-"
		}
		return fmt.Sprintf("%.0f", float64(r.small.Count)/secs)
	}
	coh := "-"
	if r.checked {
		coh = strconv.FormatBool(r.coherent)
	}
	return fmt.Sprintf("SHAREBENCH %-22s %10.1f %10.1f %9s %9s %9s %9s %s", r.name, r.write.mibps(), r.read.mibps(),
		ops(r.small.CreateSecs), ops(r.small.StatSecs), ops(r.small.UnlinkSecs), coh, r.note)
}

// TestShareBench measures file I/O in a guest over our 9P backend, with
// each msize and cache mode, against the same done in dom0 directly on the
// same directory and in the guest on an ext4 image attached through
// blkback; then dom0's memory per share and a write under a 10 MiB/s
// limit. It prints the table (lines starting SHAREBENCH) and never fails
// on figures. It runs with RUNXEN_BENCH=1 (make bench, through tests/e2e
// TestBenchShares); RUNXEN_BENCH_MIB sets the sequential size (default
// 32), RUNXEN_BENCH_FILES the small-file count (default 200).
func TestShareBench(t *testing.T) {
	if os.Getenv("RUNXEN_BENCH") != "1" {
		t.Skip("benchmark: RUNXEN_BENCH=1 (make bench)")
	}
	mib, files := envInt(t, "RUNXEN_BENCH_MIB", 32), envInt(t, "RUNXEN_BENCH_FILES", 200)
	h := newHost(t)
	base := shareBase(t)
	self, err := os.Executable()
	must(t, err)

	var configs []benchConfig
	for _, m := range []uint32{64 << 10, 256 << 10, 512 << 10} {
		for _, c := range []agent.ShareCache{agent.ShareCache_SHARE_CACHE_NONE, agent.ShareCache_SHARE_CACHE_MMAP, agent.ShareCache_SHARE_CACHE_LOOSE} {
			configs = append(configs, benchConfig{m, c})
		}
	}
	for _, c := range configs {
		d := filepath.Join(base, c.tag())
		must(t, os.Mkdir(d, 0o755))
		copyFile(t, self, filepath.Join(d, "runxen-sharetool"), 0o755)
	}

	g := h.createGuest(t, "sharebench", "agent-test.initramfs", "console=hvc0", 768)
	pssStart := pss(t)
	set := newShares(t, h, g, nil)
	ctx := ctxFor(t, bootTimeout)
	for _, c := range configs {
		must(t, set.Add(ctx, shares.Spec{Tag: c.tag(), Dir: filepath.Join(base, c.tag())}))
	}
	must(t, h.ts.Unpause(ctx, g.id))
	must(t, set.WaitConnected(ctx))
	cl, err := h.connect(ctx, g, callTimeout, nil)
	must(t, err)
	defer cl.Close()
	svc := cl.Agent()
	pssIdle := pss(t)

	var binds []specs.Mount
	for _, c := range configs {
		target := guestSharesDir + "/" + c.tag()
		mountShare(t, svc, &agent.MountShareRequest{Tag: c.tag(), Target: target, Msize: c.msize, Cache: c.cache})
		binds = append(binds, bind(target, "/m/"+c.tag(), false))
	}
	// The container's root is the test initramfs's busybox tree; it may
	// mount the blkback disk.
	spec := shareContainerSpec(busyboxRoot, []string{"sleep", "1000000"}, binds...)
	spec.Process.Capabilities.Bounding = append(spec.Process.Capabilities.Bounding, "CAP_SYS_ADMIN")
	spec.Process.Capabilities.Effective = spec.Process.Capabilities.Bounding
	spec.Process.Capabilities.Permitted = spec.Process.Capabilities.Bounding
	major, minor := int64(202), int64(16) // xvdb
	spec.Linux.Devices = append(spec.Linux.Devices, specs.LinuxDevice{Path: "/dev/xvdb", Type: "b", Major: major, Minor: minor})
	spec.Linux.Resources.Devices = append(spec.Linux.Resources.Devices, specs.LinuxDeviceCgroup{Allow: true, Type: "b", Major: &major, Minor: &minor, Access: "rwm"})
	const cid = "bench"
	createShareContainer(t, svc, cid, spec)

	seqBytes := strconv.Itoa(mib << 10)
	var rows []benchRow
	measure := func(name, dir, toolPath string, inGuest bool, prepare func(readFile string)) benchRow {
		run := func(args ...string) toolResult {
			if inGuest {
				p := startIn(t, svc, cid, shareProcess(append([]string{toolPath}, args...), shareToolEnv+"=1"))
				return parseTool(t, p.wait(t), p.stdout.String(), p.stderr.String(), args)
			}
			cmd := exec.Command(self, args...)
			cmd.Env = append(os.Environ(), shareToolEnv+"=1")
			var out, errOut bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &errOut
			st := uint32(0)
			if err := cmd.Run(); err != nil {
				st = 1
			}
			return parseTool(t, st, out.String(), errOut.String(), args)
		}
		r := benchRow{name: name}
		r.write = run("seqwrite", dir+"/w", seqBytes, "1048576")
		prepare("r")
		dropCaches(t)
		r.read = run("seqread", dir+"/r", "1048576")
		if r.read.Bytes != int64(mib)<<20 {
			t.Errorf("%s: read %d bytes, want %d", name, r.read.Bytes, mib<<20)
		}
		r.small = run("smallfiles", dir+"/small", strconv.Itoa(files))
		t.Log(r)
		return r
	}

	for _, c := range configs {
		hostDir := filepath.Join(base, c.tag())
		r := measure("9p "+strings.TrimPrefix(c.tag(), "b"), "/m/"+c.tag(), "/m/"+c.tag()+"/runxen-sharetool", true, func(f string) {
			writeRandom(t, filepath.Join(hostDir, f), mib<<20)
		})
		// Does the guest see dom0 rewrite a file in place (same size)?
		must(t, os.WriteFile(filepath.Join(hostDir, "coh"), []byte("one\n"), 0o644))
		first := mustSh(t, svc, cid, "cat /m/"+c.tag()+"/coh")
		must(t, os.WriteFile(filepath.Join(hostDir, "coh"), []byte("two\n"), 0o644))
		second := mustSh(t, svc, cid, "cat /m/"+c.tag()+"/coh")
		r.checked, r.coherent = true, first == "one\n" && second == "two\n"
		rows = append(rows, r)
	}
	pssBusy := pss(t)

	// dom0 directly, on the directory the default configuration served.
	def := benchConfig{256 << 10, agent.ShareCache_SHARE_CACHE_MMAP}
	var defRow benchRow
	for _, r := range rows {
		if r.name == "9p "+strings.TrimPrefix(def.tag(), "b") {
			defRow = r
		}
	}
	defDir := filepath.Join(base, def.tag())
	rows = append(rows, measure("dom0 direct", defDir, self, false, func(string) {}))

	// The guest on ext4 through blkback, holding the same read file.
	rows = append(rows, blkbackRow(t, h, g, svc, cid, base, defDir, mib, measure))

	// A write under a 10 MiB/s limit (busybox dd, as a user would), after
	// one second's worth drained the burst.
	limit := uint64(10 << 20)
	must(t, set.SetLimits(def.tag(), iolimit.Limits{WriteBytesPerSec: limit}))
	guestDD(t, svc, cid, "/m/"+def.tag()+"/limit", 10)
	ddRate := guestDD(t, svc, cid, "/m/"+def.tag()+"/limit", 50)
	must(t, set.SetLimits(def.tag(), iolimit.Limits{}))

	fmt.Printf("SHAREBENCH %d MiB sequential (1 MiB calls, write includes fsync; reads cold in dom0 and guest), %d small files of 1 KiB\n", mib, files)
	fmt.Printf("SHAREBENCH %-22s %10s %10s %9s %9s %9s %9s\n", "where", "write MiB/s", "read MiB/s", "create/s", "stat/s", "unlink/s", "coherent")
	for _, r := range rows {
		fmt.Println(r)
	}
	direct := rows[len(rows)-2]
	fmt.Printf("SHAREBENCH default (%s): sequential read %.2fx dom0 direct, write %.2fx\n", def.tag(), defRow.read.mibps()/direct.read.mibps(), defRow.write.mibps()/direct.write.mibps())
	n := float64(len(configs))
	fmt.Printf("SHAREBENCH dom0 memory per share (this process, %d shares): PSS %.0f KiB connected and idle, %.0f KiB after the runs (RSS %.0f / %.0f KiB); of that, mapped rings (gntdev) %.0f KiB\n",
		len(configs), float64(pssIdle.pss-pssStart.pss)/n, float64(pssBusy.pss-pssStart.pss)/n,
		float64(pssIdle.rss-pssStart.rss)/n, float64(pssBusy.rss-pssStart.rss)/n, float64(pssBusy.gntdev-pssStart.gntdev)/n)
	fmt.Printf("SHAREBENCH 10 MiB/s write limit: 50 MiB busybox dd conv=fsync in the guest: %.2f MiB/s (guest clock); unlimited, the same share wrote %.1f MiB/s\n",
		ddRate, defRow.write.mibps())
}

// blkbackRow measures the guest on an ext4 image attached with xl
// block-attach (blkback on a loop device), holding the same read file as
// dir.
func blkbackRow(t *testing.T, h *host, g *guest, svc agent.AgentService, cid, base, dir string, mib int,
	measure func(name, dir, toolPath string, inGuest bool, prepare func(string)) benchRow) benchRow {
	t.Helper()
	ctx := ctxFor(t, stepTimeout)
	content := filepath.Join(base, "ext4-content")
	must(t, os.Mkdir(content, 0o755))
	copyFile(t, filepath.Join(dir, "r"), filepath.Join(content, "r"), 0o644)
	img := filepath.Join(base, "ext4.img")
	if out, err := exec.CommandContext(ctx, "mkfs.ext4", "-q", "-F", "-d", content, img, fmt.Sprintf("%dM", 3*mib+64)).CombinedOutput(); err != nil {
		t.Fatalf("mkfs.ext4: %v\n%s", err, out)
	}
	_ = exec.Command("modprobe", "loop").Run()
	loop, err := exec.CommandContext(ctx, "losetup", "-f", "--show", img).Output()
	if err != nil {
		t.Fatalf("losetup: %v", err)
	}
	dev := strings.TrimSpace(string(loop))
	t.Cleanup(func() { _ = exec.Command("losetup", "-d", dev).Run() })
	if out, err := exec.CommandContext(ctx, "xl", "block-attach", strconv.Itoa(int(g.id)), "format=raw,vdev=xvdb,access=rw,target="+dev).CombinedOutput(); err != nil {
		t.Fatalf("xl block-attach: %v\n%s", err, out)
	}
	mustSh(t, svc, cid, "i=0; while [ ! -e /sys/block/xvdb ] && [ $i -lt 120 ]; do sleep 1; i=$((i+1)); done; mkdir -p /ext4 && mount -t ext4 /dev/xvdb /ext4")
	tool := "/m/" + benchConfig{256 << 10, agent.ShareCache_SHARE_CACHE_MMAP}.tag() + "/runxen-sharetool"
	r := measure("blkback ext4", "/ext4", tool, true, func(string) {})
	mustSh(t, svc, cid, "umount /ext4")
	return r
}

// dropCaches empties dom0's page cache, so reads come from the disk.
func dropCaches(t *testing.T) {
	t.Helper()
	exec.Command("sync").Run()
	must(t, os.WriteFile("/proc/sys/vm/drop_caches", []byte("3"), 0o200))
}

func writeRandom(t *testing.T, p string, n int) {
	t.Helper()
	b := block(1 << 20)
	f, err := os.Create(p)
	must(t, err)
	for i := 0; i < n; i += len(b) {
		_, err := f.Write(b[:min(len(b), n-i)])
		must(t, err)
	}
	must(t, f.Close())
}

type pssFigures struct{ pss, rss, gntdev int64 } // KiB

// pss sums this process's proportional set size, and that of its mappings
// of granted pages, after a garbage collection.
func pss(t *testing.T) pssFigures {
	t.Helper()
	runtime.GC()
	debug.FreeOSMemory()
	f, err := os.Open("/proc/self/smaps")
	must(t, err)
	defer f.Close()
	var p pssFigures
	gnt := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		fields := strings.Fields(line)
		if len(fields) >= 5 && strings.Contains(fields[0], "-") && !strings.HasSuffix(fields[0], ":") {
			gnt = strings.HasSuffix(line, "/dev/xen/gntdev")
			continue
		}
		if len(fields) != 3 {
			continue
		}
		v, _ := strconv.ParseInt(fields[1], 10, 64)
		switch fields[0] {
		case "Pss:":
			p.pss += v
			if gnt {
				p.gntdev += v
			}
		case "Rss:":
			p.rss += v
		}
	}
	return p
}

func envInt(t *testing.T, name string, def int) int {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	v, err := strconv.Atoi(s)
	if err != nil || v <= 0 {
		t.Fatalf("%s=%q: want a positive number", name, s)
	}
	return v
}
