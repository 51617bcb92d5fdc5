//go:build dom0

package dom0

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	agent "github.com/runxen/runxen/guest-agent/api/v1"
	"github.com/runxen/runxen/runtime/agentclient"
	"github.com/runxen/runxen/runtime/iolimit"
	"github.com/runxen/runxen/runtime/shares"
	"github.com/runxen/runxen/runtime/xen"
	"github.com/runxen/runxen/runtime/xen9pfs"
)

// shareGuest is a running guest whose container's root file system,
// one volume and one read-only share are served from dom0 by
// runtime/shares (our 9P server on Xen's 9pfs transport).
type shareGuest struct {
	h          *host
	g          *guest
	set        *shares.Set
	c          *agentclient.Client
	svc        agent.AgentService
	base       string // root, vol, ro and outside are in it
	root, vol  string
	ro         string
	outside    string
	secret     *sentinel
	withStress bool
	fdsBefore  int
}

// shareCID is the container of a shareGuest.
const shareCID = "share"

// startShareGuest builds the directories, creates the guest paused, adds
// the shares, unpauses it, mounts them through the agent and starts the
// container with /bin/sh from the root share.
func startShareGuest(t *testing.T, name string) *shareGuest {
	t.Helper()
	sg := &shareGuest{h: newHost(t)}
	sg.fdsBefore = xenFDs(t)
	sg.base = shareBase(t)
	sg.root, sg.vol, sg.ro, sg.outside = filepath.Join(sg.base, "rootfs"), filepath.Join(sg.base, "vol"), filepath.Join(sg.base, "ro"), filepath.Join(sg.base, "outside")
	for _, d := range []string{sg.root, sg.vol, sg.ro, sg.outside} {
		must(t, os.Mkdir(d, 0o755))
	}
	sg.withStress = buildRootfs(t, sg.root)
	must(t, os.WriteFile(filepath.Join(sg.ro, "existing"), []byte("read me\n"), 0o644))
	must(t, os.WriteFile(filepath.Join(sg.vol, "from-host"), []byte("host file\n"), 0o644))
	sg.secret = newSentinel(t, filepath.Join(sg.outside, "secret"), "dom0 secret\n")

	h := sg.h
	sg.g = h.createGuest(t, name, "agent-test.initramfs", "console=hvc0", 512)
	sg.set = newShares(t, h, sg.g, nil)
	ctx := ctxFor(t, bootTimeout)
	for _, sp := range []shares.Spec{
		{Tag: "rootfs", Dir: sg.root},
		{Tag: "vol", Dir: sg.vol},
		{Tag: "ro", Dir: sg.ro, ReadOnly: true},
	} {
		must(t, sg.set.Add(ctx, sp))
	}
	if info, err := h.ts.Info(ctx, sg.g.id); err != nil || info.State != xen.StatePaused {
		t.Fatalf("shares were to be added to a paused domain: %+v, %v", info, err)
	}
	start := time.Now()
	must(t, h.ts.Unpause(ctx, sg.g.id))
	if err := sg.set.WaitConnected(ctx); err != nil {
		t.Fatal(err)
	}
	connected := time.Since(start)
	c, err := h.connect(ctx, sg.g, callTimeout, nil)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	sg.c, sg.svc = c, c.Agent()
	t.Logf("unpause to shares connected %s, to agent answering %s", connected.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))

	svc := sg.svc
	mountShare(t, svc, &agent.MountShareRequest{Tag: "rootfs", Target: guestRootfs})
	mountShare(t, svc, &agent.MountShareRequest{Tag: "vol", Target: guestSharesDir + "/vol"})
	// Mounted writable in the guest: the file server itself must refuse.
	mountShare(t, svc, &agent.MountShareRequest{Tag: "ro", Target: guestSharesDir + "/ro"})
	if _, err := svc.MountShare(ctx, &agent.MountShareRequest{Tag: "vol", Target: guestSharesDir + "/again"}); err == nil {
		t.Error("a tag mounted twice")
	}
	start = time.Now()
	init := createShareContainer(t, svc, shareCID, shareContainerSpec(guestRootfs,
		[]string{"/bin/sh", "-c", "echo init-running-from-the-share; exec sleep 1000000"},
		bind(guestSharesDir+"/vol", "/vol", false), bind(guestSharesDir+"/ro", "/ro", false)))
	if err := init.stdout.waitFor(ctx, "init-running-from-the-share"); err != nil {
		t.Fatal(err)
	}
	t.Logf("container running /bin/sh from the root share %s after CreateContainer", time.Since(start).Round(time.Millisecond))
	return sg
}

// checkNothingLeft checks, once the domain is gone and the shares closed,
// that dom0 holds nothing of them and the sentinel outside is untouched.
func (sg *shareGuest) checkNothingLeft(t *testing.T) {
	t.Helper()
	if left := leftovers(t, sg.h, sg.g); len(left) > 0 {
		t.Errorf("left behind:\n%s", strings.Join(left, "\n"))
	}
	if n := xenFDs(t); n != sg.fdsBefore {
		t.Errorf("this process has %d files open on /dev/xen, %d before the guest", n, sg.fdsBefore)
	}
	if n := gntdevMappings(t); n != 0 {
		t.Errorf("this process still maps %d granted areas", n)
	}
	sg.secret.check(t)
}

// TestShareGuest proves on a guest whose root file system is a busybox
// image served from dom0 (see startShareGuest), in order: the agent runs
// /bin/sh from the share as the container's root; what the guest does is
// seen exactly so in dom0 and the other way round, on the root share and a
// volume; the read-only share refuses writes; escape attempts touch and
// read nothing outside; and destroying the domain mid-I/O leaves nothing
// behind. TestShareStress does the heavy I/O on a guest of its own, so
// that each fits the lab's time limit per test.
func TestShareGuest(t *testing.T) {
	sg := startShareGuest(t, "share")
	h, g, set, svc, c := sg.h, sg.g, sg.set, sg.svc, sg.c
	root, vol, ro, outside, base, secret := sg.root, sg.vol, sg.ro, sg.outside, sg.base, sg.secret
	const cid = shareCID

	step(t, "root-from-the-share", func(t *testing.T) {
		out := mustSh(t, svc, cid, `readlink /bin; readlink /usr/bin/sh; cat /etc/hostname; grep -E ' (/|/vol|/ro) 9p ' /proc/mounts; grep -E '^(9p|9pnet|9pnet_xen|netfs) ' /proc/modules | cut -d' ' -f1 | sort | tr '\n' ' '`)
		t.Logf("in the container:\n%s", out)
		for _, want := range []string{"usr/bin\n/usr/bin/busybox\nrunxen-share\n", "rootfs / 9p ", "trans=xen", "vol /vol 9p", "ro /ro 9p", "9pnet_xen"} {
			if !strings.Contains(out, want) {
				t.Errorf("container view lacks %q", want)
			}
		}
	})

	step(t, "guest-changes-seen-in-dom0", func(t *testing.T) {
		out := mustSh(t, svc, cid, `set -e
cd /work
echo hello > a.txt
mv a.txt b.txt
mkdir -p d1/d2 dd
echo deep > d1/d2/f
mv dd dd2
chmod 4755 b.txt
chmod 2750 d1
chown 1000:1000 d1/d2/f
ln -s ../b.txt d1/link
ln -s /etc/passwd abslink
ln b.txt hard
mkfifo fifo
touch gone
rm gone
dd if=/dev/zero of=trunc bs=1 count=0 seek=12345 2>/dev/null
touch -d '2001-02-03 04:05:06' b.txt
head -c 300000 /dev/urandom > rnd
sha256sum rnd
if mknod cdev c 1 3 2>/dev/null; then echo MKNOD-ALLOWED; fi
`)
		syncShares(t, svc, set)
		w := filepath.Join(root, "work")
		checkAbsent(t, filepath.Join(w, "a.txt"), filepath.Join(w, "gone"), filepath.Join(w, "dd"), filepath.Join(w, "cdev"))
		if strings.Contains(out, "MKNOD-ALLOWED") {
			t.Error("the guest made a character device on the share")
		}
		b := lstat(t, filepath.Join(w, "b.txt"))
		if b.Mode&unix.S_IFMT != unix.S_IFREG || b.Mode&0o7777 != 0o4755 || b.Nlink != 2 || b.Uid != 0 ||
			time.Unix(b.Mtim.Unix()).UTC() != time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC) {
			t.Errorf("b.txt: mode %o, links %d, uid %d, mtime %s", b.Mode, b.Nlink, b.Uid, time.Unix(b.Mtim.Unix()).UTC())
		}
		if hard := lstat(t, filepath.Join(w, "hard")); hard.Ino != b.Ino {
			t.Errorf("hard link has inode %d, b.txt %d", hard.Ino, b.Ino)
		}
		checkContent(t, filepath.Join(w, "b.txt"), "hello\n")
		if d := lstat(t, filepath.Join(w, "d1")); d.Mode&unix.S_IFMT != unix.S_IFDIR || d.Mode&0o7777 != 0o2750 {
			t.Errorf("d1: mode %o", d.Mode)
		}
		if f := lstat(t, filepath.Join(w, "d1/d2/f")); f.Uid != 1000 || f.Gid != 1000 {
			t.Errorf("d1/d2/f owned by %d:%d, want 1000:1000", f.Uid, f.Gid)
		}
		checkContent(t, filepath.Join(w, "d1/d2/f"), "deep\n")
		checkLink(t, filepath.Join(w, "d1/link"), "../b.txt")
		checkLink(t, filepath.Join(w, "abslink"), "/etc/passwd")
		if f := lstat(t, filepath.Join(w, "fifo")); f.Mode&unix.S_IFMT != unix.S_IFIFO {
			t.Errorf("fifo: mode %o", f.Mode)
		}
		if f := lstat(t, filepath.Join(w, "dd2")); f.Mode&unix.S_IFMT != unix.S_IFDIR {
			t.Errorf("dd2: mode %o", f.Mode)
		}
		if f := lstat(t, filepath.Join(w, "trunc")); f.Size != 12345 {
			t.Errorf("trunc: size %d", f.Size)
		}
		data, err := os.ReadFile(filepath.Join(w, "rnd"))
		must(t, err)
		sum := sha256.Sum256(data)
		if len(data) != 300000 || !strings.Contains(out, hex.EncodeToString(sum[:])+"  rnd") {
			t.Errorf("rnd: %d bytes with sha256 %x; the guest said %q", len(data), sum, out)
		}
	})

	step(t, "dom0-changes-seen-in-guest", func(t *testing.T) {
		w := filepath.Join(root, "work")
		guest := func(script string) string { return strings.TrimSpace(mustSh(t, svc, cid, script)) }
		must(t, os.WriteFile(filepath.Join(w, "host.txt"), []byte("one\n"), 0o644))
		if got := guest("cat /work/host.txt"); got != "one" {
			t.Errorf("new host file: guest reads %q", got)
		}
		// Same size, other bytes: a stale page cache would show "one".
		must(t, os.WriteFile(filepath.Join(w, "host.txt"), []byte("two\n"), 0o644))
		if got := guest("cat /work/host.txt"); got != "two" {
			t.Errorf("host file rewritten in place: guest reads %q", got)
		}
		must(t, os.WriteFile(filepath.Join(w, "host.txt"), []byte("three, longer\n"), 0o644))
		if got := guest("cat /work/host.txt"); got != "three, longer" {
			t.Errorf("host file grown: guest reads %q", got)
		}
		must(t, os.Rename(filepath.Join(w, "host.txt"), filepath.Join(w, "host2.txt")))
		must(t, os.Chmod(filepath.Join(w, "host2.txt"), 0o600))
		must(t, os.Lchown(filepath.Join(w, "host2.txt"), 1000, 1000))
		if got := guest("test -e /work/host.txt && echo still-there; stat -c '%a %u %g' /work/host2.txt"); got != "600 1000 1000" {
			t.Errorf("host rename, chmod, chown: guest sees %q", got)
		}
		must(t, os.Symlink("b.txt", filepath.Join(w, "hostlink")))
		must(t, os.MkdirAll(filepath.Join(w, "hdir/sub"), 0o755))
		must(t, os.WriteFile(filepath.Join(w, "hdir/sub/f"), []byte("nested\n"), 0o644))
		if got := guest("readlink /work/hostlink; cat /work/hdir/sub/f"); got != "b.txt\nnested" {
			t.Errorf("host symlink and directories: guest sees %q", got)
		}
		must(t, os.Remove(filepath.Join(w, "host2.txt")))
		must(t, os.RemoveAll(filepath.Join(w, "hdir")))
		if got := guest("ls /work/host2.txt /work/hdir 2>&1 | grep -c 'No such file'"); got != "2" {
			t.Errorf("host removals: guest sees %q", got)
		}
	})

	step(t, "volume-both-ways", func(t *testing.T) {
		out := mustSh(t, svc, cid, "cat /vol/from-host; echo from-guest > /vol/from-guest; mkdir /vol/gdir; ln -s from-guest /vol/glink")
		if out != "host file\n" {
			t.Errorf("guest reads the volume's file as %q", out)
		}
		syncShares(t, svc, set)
		checkContent(t, filepath.Join(vol, "from-guest"), "from-guest\n")
		checkLink(t, filepath.Join(vol, "glink"), "from-guest")
		if d := lstat(t, filepath.Join(vol, "gdir")); d.Mode&unix.S_IFMT != unix.S_IFDIR {
			t.Errorf("gdir: mode %o", d.Mode)
		}
		checkAbsent(t, filepath.Join(root, "vol/from-guest")) // not in the mount point below it
		must(t, os.WriteFile(filepath.Join(vol, "later"), []byte("later\n"), 0o644))
		if got := mustSh(t, svc, cid, "cat /vol/later"); got != "later\n" {
			t.Errorf("guest reads %q", got)
		}
	})

	step(t, "read-only-share", func(t *testing.T) {
		before := lstat(t, filepath.Join(ro, "existing"))
		out := mustSh(t, svc, cid, `for c in 'echo x > /ro/new' 'echo y >> /ro/existing' 'rm /ro/existing' 'chmod 777 /ro/existing' \
	'chown 1000 /ro/existing' 'mkdir /ro/d' 'ln -s x /ro/l' 'ln /ro/existing /ro/h' 'mv /ro/existing /ro/moved' \
	'touch /ro/existing' 'mkfifo /ro/p' 'dd if=/dev/zero of=/ro/existing bs=1 count=0 seek=1'; do
	if sh -c "$c" 2>/tmp/ro-err; then echo "ALLOWED: $c"; else echo "refused: $c: $(cat /tmp/ro-err)"; fi
done
cat /ro/existing`)
		t.Logf("read-only share:\n%s", out)
		if strings.Contains(out, "ALLOWED") || !strings.HasSuffix(out, "read me\n") {
			t.Errorf("read-only share:\n%s", out)
		}
		if n := strings.Count(out, "Read-only file system"); n < 12 {
			t.Errorf("only %d refusals say EROFS", n)
		}
		ents, err := os.ReadDir(ro)
		must(t, err)
		if len(ents) != 1 {
			t.Errorf("read-only share now holds %v", ents)
		}
		after := lstat(t, filepath.Join(ro, "existing"))
		if after.Mode != before.Mode || after.Uid != before.Uid || after.Size != before.Size || after.Mtim != before.Mtim || after.Ctim != before.Ctim {
			t.Errorf("read-only file changed: %+v -> %+v", before, after)
		}
	})

	step(t, "escapes", func(t *testing.T) {
		// The guest's symlinks point where, resolved in dom0 from inside
		// the share, they would reach the sibling directory "outside".
		stop := make(chan struct{})
		var swaps atomic.Int64
		var wg sync.WaitGroup
		stopSwapping := sync.OnceFunc(func() { close(stop); wg.Wait() })
		defer stopSwapping()
		wg.Add(1)
		go func() {
			// dom0 swaps a directory of the share for a symlink to
			// outside, over and over, while the guest works in it.
			defer wg.Done()
			hr := filepath.Join(root, "hostrace")
			for {
				select {
				case <-stop:
					return
				default:
				}
				_ = os.Mkdir(hr+".d", 0o777)
				_ = os.Rename(hr+".d", hr)
				time.Sleep(time.Millisecond)
				_ = os.Rename(hr, hr+".old")
				_ = os.Symlink("../outside", hr)
				time.Sleep(time.Millisecond)
				_ = os.Remove(hr)
				_ = os.RemoveAll(hr + ".old")
				swaps.Add(1)
			}
		}()
		// Each loop iteration forks a few busybox processes, slow under
		// emulation: N iterations per racer, racing for about a minute.
		out := mustSh(t, svc, cid, `cd /; N=40
ln -s /etc esc-etc; echo pwned > esc-etc/runxen-escape
ln -s /proc/self/root esc-proc; echo pwned > esc-proc/runxen-escape2; cat esc-proc/etc/hostname
ln -s ../outside esc-rel; echo pwned > esc-rel/secret 2>&1; cat esc-rel/secret 2>&1
cat ../../../../outside/secret 2>&1; cat /work/../../../outside/secret 2>&1
ln ../../outside/secret /hl 2>&1
mkdir -p /race
( i=0; while [ $i -lt $N ]; do mkdir /race/d 2>/dev/null; mv /race/d /race/d.old 2>/dev/null; ln -s ../../outside /race/d 2>/dev/null
	rm -f /race/d; rm -rf /race/d.old; i=$((i+1)); done ) &
( i=0; while [ $i -lt $N ]; do echo pwned > /race/d/secret 2>/dev/null; chmod 666 /race/d/secret 2>/dev/null
	cat /race/d/secret >/dev/null 2>&1; ln /race/d/secret /race/h 2>/dev/null; rm -f /race/d/secret /race/h 2>/dev/null; i=$((i+1)); done ) &
( i=0; while [ $i -lt $N ]; do echo pwned > /hostrace/secret 2>/dev/null; chmod 666 /hostrace/secret 2>/dev/null
	cat /hostrace/secret >/dev/null 2>&1; mv /hostrace/secret /hostrace/s2 2>/dev/null; rm -f /hostrace/s2 2>/dev/null; i=$((i+1)); done ) &
wait
echo done`)
		stopSwapping()
		t.Logf("guest:\n%s(dom0 swapped hostrace %d times)", out, swaps.Load())
		syncShares(t, svc, set)
		secret.check(t)
		ents, err := os.ReadDir(outside)
		must(t, err)
		if len(ents) != 1 {
			t.Errorf("outside now holds %v", ents)
		}
		checkAbsent(t, "/etc/runxen-escape", "/runxen-escape2", filepath.Join(base, "hl"))
		// The guest's writes through its symlinks landed inside the share,
		// where the guest's own kernel resolved them.
		checkContent(t, filepath.Join(root, "etc/runxen-escape"), "pwned\n")
		checkContent(t, filepath.Join(root, "runxen-escape2"), "pwned\n")
		checkLink(t, filepath.Join(root, "esc-rel"), "../outside")
	})

	step(t, "destroy-mid-io", func(t *testing.T) {
		startIn(t, svc, cid, shareProcess([]string{guestTool, "seqwrite", "/vol/big", "4194304", "262144"}, shareToolEnv+"=1"))
		time.Sleep(5 * time.Second)
		ctx := ctxFor(t, stepTimeout)
		dstart := time.Now()
		must(t, h.ts.Destroy(ctx, g.id))
		for _, st := range set.Status() {
			for st.Err == nil && ctx.Err() == nil {
				time.Sleep(100 * time.Millisecond)
				st = statusOf(set, st.Tag)
			}
			if !errors.Is(st.Err, xen9pfs.ErrDomainGone) && !errors.Is(st.Err, xen9pfs.ErrRemoved) {
				t.Errorf("share %s ended with %v", st.Tag, st.Err)
			}
		}
		t.Logf("every device gone %s after xl destroy began", time.Since(dstart).Round(time.Millisecond))
		must(t, set.Close())
		c.Close()
		sg.checkNothingLeft(t)
	})
}

// TestShareStress runs, on a guest like TestShareGuest's, our fsx (random
// I/O checked against a model) on the root share and a volume at once,
// Debian's stress-ng file stressors with verification, and I/O limits set
// and changed while the guest writes.
func TestShareStress(t *testing.T) {
	sg := startShareGuest(t, "share-stress")
	svc, set, withStress := sg.svc, sg.set, sg.withStress
	const cid = shareCID

	step(t, "fsx", func(t *testing.T) {
		var wg sync.WaitGroup
		for i, dir := range []string{"/work", "/vol"} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := tool(t, svc, cid, "fsx", dir+"/fsx", "1500", fmt.Sprint(i+1))
				t.Logf("fsx on %s: %d bytes at the end, %v in %.1f s: every read matched the model", dir, r.Bytes, r.Ops, r.Secs)
			}()
		}
		wg.Wait()
	})

	step(t, "stress-ng", func(t *testing.T) {
		if !withStress {
			t.Skip("dom0 has no stress-ng (the lab image installs it)")
		}
		// One stressor at a time, each bounded, so that a failure or a hang
		// names its stressor. Exit 0 passes; 3 and 4 mean the stressor
		// cannot run here (skipped); anything else, a timeout included,
		// fails.
		out := mustSh(t, svc, cid, `mkdir -p /work/stress; cd /work/stress
for s in 'hdd 1 --hdd-bytes 2m' 'dir 1' 'dentry 1' 'rename 1' 'link 1' 'symlink 1' 'chmod 1' 'utime 1' \
	'seek 1 --seek-size 2m' 'lockf 1' 'flock 1' 'mmap 1 --mmap-file --mmap-bytes 2m' 'iomix 1 --iomix-bytes 2m' 'chown 1' 'readahead 1 --readahead-bytes 2m'; do
	timeout -s KILL 300 stress-ng --temp-path /work/stress --timeout 20s --verify --metrics-brief --$s >/tmp/stress.out 2>&1
	echo "STRESS ${s%% *} exit $?"
	grep -E 'fail|error|metrc|bogo|passed|skipped' /tmp/stress.out | grep -v '^stress-ng: info: .*dispatching' | head -8
done`)
		t.Logf("stress-ng:\n%s", out)
		ran := 0
		for _, line := range strings.Split(out, "\n") {
			var name string
			var code int
			if n, _ := fmt.Sscanf(line, "STRESS %s exit %d", &name, &code); n != 2 {
				continue
			}
			ran++
			switch code {
			case 0:
			case 3, 4:
				t.Logf("stressor %s cannot run here (exit %d)", name, code)
			default:
				t.Errorf("stressor %s: exit %d", name, code)
			}
		}
		if ran != 15 {
			t.Errorf("%d stressors reported, want 15", ran)
		}
	})

	step(t, "io-limits", func(t *testing.T) {
		free := tool(t, svc, cid, "seqwrite", "/work/limit", "32768", "262144")
		limit := uint64(10 << 20)
		if free.mibps() < 40 {
			// The lab is slow: measure against a limit the guest exceeds
			// four times, in quarters of a MiB/s.
			limit = max(uint64(math.Floor(free.mibps())*(1<<20)/16)*4, 256<<10)
		}
		t.Logf("unlimited: %s; limit %.2f MiB/s", fmtMiBps(free), float64(limit)/(1<<20))
		must(t, set.SetLimits("rootfs", iolimit.Limits{WriteBytesPerSec: limit}))
		// One second's worth drains the bucket's burst: what follows runs
		// at the sustained rate.
		tool(t, svc, cid, "seqwrite", "/work/limit", fmt.Sprint(limit>>10), "262144")
		limited := tool(t, svc, cid, "seqwrite", "/work/limit", fmt.Sprint(limit*10>>10), "262144")
		rate := limited.mibps() * (1 << 20)
		t.Logf("limited to %.2f MiB/s: the guest measured %s", float64(limit)/(1<<20), fmtMiBps(limited))
		if rate > 1.05*float64(limit) {
			t.Errorf("the guest wrote at %s under a %.2f MiB/s limit", fmtMiBps(limited), float64(limit)/(1<<20))
		}
		ddRate := guestDD(t, svc, cid, "/work/dd", int(limit*5>>20)+1)
		t.Logf("busybox dd conv=fsync under the limit: %.2f MiB/s", ddRate)
		if ddRate*(1<<20) > 1.05*float64(limit) {
			t.Errorf("busybox dd wrote at %.2f MiB/s under a %.2f MiB/s limit", ddRate, float64(limit)/(1<<20))
		}

		// Raised while a write runs: the write speeds up without a remount.
		p := startIn(t, svc, cid, shareProcess([]string{guestTool, "seqwrite", "/work/limit", fmt.Sprint(limit * 20 >> 10), "262144"}, shareToolEnv+"=1"))
		time.Sleep(3 * time.Second)
		must(t, set.SetLimits("rootfs", iolimit.Limits{WriteBytesPerSec: 4 * limit}))
		raised := parseTool(t, waitProc(t, p, shareStepTimeout), p.stdout.String(), p.stderr.String(), nil)
		t.Logf("20 s worth at the old limit, raised 4x after 3 s: took %.1f s (%s)", raised.Secs, fmtMiBps(raised))
		if raised.Secs > 13 {
			t.Errorf("raising the limit live did not speed the write up: %.1f s", raised.Secs)
		}
		must(t, set.SetLimits("rootfs", iolimit.Limits{}))
		for _, st := range set.Status() {
			t.Logf("share %s: %+v", st.Tag, st.Stats)
		}
	})

	step(t, "teardown", func(t *testing.T) {
		must(t, sg.h.ts.Destroy(ctxFor(t, stepTimeout), sg.g.id))
		must(t, set.Close())
		sg.c.Close()
		sg.checkNothingLeft(t)
	})
}

func statusOf(s *shares.Set, tag string) shares.Status {
	for _, st := range s.Status() {
		if st.Tag == tag {
			return st
		}
	}
	return shares.Status{}
}

// TestShareNeverConnects: a guest that never connects its share (here:
// never unpaused) fails WaitConnected within the bound with an error
// saying so; closing leaves nothing behind.
func TestShareNeverConnects(t *testing.T) {
	h := newHost(t)
	base := shareBase(t)
	g := h.createGuest(t, "share-noconn", "agent.initramfs", "console=hvc0", 256)
	const bound = 15 * time.Second
	set := newShares(t, h, g, func(c *shares.Config) { c.ConnectTimeout = bound })
	ctx := ctxFor(t, stepTimeout)
	must(t, set.Add(ctx, shares.Spec{Tag: "rootfs", Dir: base}))
	start := time.Now()
	err := set.WaitConnected(ctx)
	took := time.Since(start)
	t.Logf("after %s: %v", took.Round(time.Millisecond), err)
	if err == nil || !errors.Is(err, xen9pfs.ErrNotConnected) || !strings.Contains(err.Error(), `share "rootfs"`) ||
		!strings.Contains(err.Error(), "has not started the device") {
		t.Fatalf("WaitConnected = %v", err)
	}
	if took < bound || took > bound+30*time.Second {
		t.Errorf("WaitConnected returned after %s with a %s bound", took, bound)
	}
	must(t, set.Close())
	must(t, h.ts.Destroy(ctx, g.id))
	if left := leftovers(t, h, g); len(left) > 0 {
		t.Fatalf("left behind:\n%s", strings.Join(left, "\n"))
	}
}

// sentinel is a file outside every share whose inode must stay untouched
// and unread: its times are set far in the past, so any read would move
// its atime, even on a relatime mount.
type sentinel struct {
	path, content string
	st            unix.Stat_t
}

func newSentinel(t *testing.T, path, content string) *sentinel {
	t.Helper()
	must(t, os.WriteFile(path, []byte(content), 0o600))
	old := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	must(t, os.Chtimes(path, old, old))
	must(t, os.Chtimes(filepath.Dir(path), old, old))
	s := &sentinel{path: path, content: content}
	must(t, unix.Lstat(path, &s.st))
	// Prove that this file system records reads: a control file read
	// must move its atime.
	ctl := path + ".control"
	must(t, os.WriteFile(ctl, []byte("x"), 0o600))
	must(t, os.Chtimes(ctl, old, old))
	_, err := os.ReadFile(ctl)
	must(t, err)
	var cst unix.Stat_t
	must(t, unix.Lstat(ctl, &cst))
	must(t, os.Remove(ctl))
	must(t, os.Chtimes(filepath.Dir(path), old, old))
	must(t, unix.Lstat(path, &s.st))
	if time.Unix(cst.Atim.Unix()).Equal(old) {
		t.Fatalf("%s is on a file system that does not record reads (noatime): cannot prove the sentinel unread", path)
	}
	return s
}

func (s *sentinel) check(t *testing.T) {
	t.Helper()
	var now unix.Stat_t
	must(t, unix.Lstat(s.path, &now))
	if now.Ino != s.st.Ino || now.Mode != s.st.Mode || now.Uid != s.st.Uid || now.Gid != s.st.Gid || now.Nlink != s.st.Nlink ||
		now.Size != s.st.Size || now.Atim != s.st.Atim || now.Mtim != s.st.Mtim || now.Ctim != s.st.Ctim {
		t.Errorf("%s changed or was read:\nbefore %+v\nafter  %+v", s.path, s.st, now)
	}
	checkContent(t, s.path, s.content) // last: this read moves the atime
	old := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	must(t, os.Chtimes(s.path, old, old))
	must(t, unix.Lstat(s.path, &s.st))
}

func lstat(t *testing.T, p string) unix.Stat_t {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		t.Fatalf("dom0: %v", err)
	}
	return st
}

func checkContent(t *testing.T, p, want string) {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil || string(b) != want {
		t.Errorf("dom0: %s holds %q (%v), want %q", p, b, err, want)
	}
}

func checkLink(t *testing.T, p, want string) {
	t.Helper()
	got, err := os.Readlink(p)
	if err != nil || got != want {
		t.Errorf("dom0: %s links to %q (%v), want %q", p, got, err, want)
	}
}

func checkAbsent(t *testing.T, paths ...string) {
	t.Helper()
	for _, p := range paths {
		if _, err := os.Lstat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("dom0: %s exists (%v)", p, err)
		}
	}
}

// guestDD writes mib MiB of zeros with busybox dd (conv=fsync) in the
// container and returns the rate the guest's own clock measured.
// (Debian's busybox dd prints no rate.)
func guestDD(t *testing.T, svc agent.AgentService, cid, path string, mib int) float64 {
	t.Helper()
	out := mustSh(t, svc, cid, fmt.Sprintf("s=$(cut -d' ' -f1 /proc/uptime); dd if=/dev/zero of=%s bs=1048576 count=%d conv=fsync 2>/dev/null; e=$(cut -d' ' -f1 /proc/uptime); echo $s $e", path, mib))
	var start, end float64
	if n, _ := fmt.Sscanf(out, "%g %g", &start, &end); n != 2 || end <= start {
		t.Fatalf("dd timing: %q", out)
	}
	return float64(mib) / (end - start)
}
