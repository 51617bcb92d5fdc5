//go:build lab

package e2e

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/runxen/runxen/tests/lab"
)

// The shim's end-to-end tests: Docker (containerd 1.7) and ctr (containerd 2.x) run containers
// in Xen guests through containerd-shim-xen-v1, installed from the payload the way
// docs/install.md says, with a local busybox image (no registry is reachable).

const (
	shimImage = "runxen-test:busybox"
	// shimCmdTimeout bounds one docker or ctr command: each boots a guest under QEMU TCG.
	shimCmdTimeout = 10 * time.Minute
)

var shimSetup struct {
	once sync.Once
	err  error
}

// shimLab installs the shim in dom0 once per lab: the binary in PATH, /etc/runxen/config.toml
// naming the payload's guest images, the runtime registered with dockerd (restarted the way the
// lab's init starts it), and the test image in Docker and containerd 2.x.
func shimLab(t *testing.T) *lab.Lab {
	t.Helper()
	skipUnlessWIP(t, "Shim")
	l := lab.Get(t)
	// Runs before lab.Get's artifact collection: the shims' goroutine dumps land in the
	// containerd logs that it saves.
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		l.Sh(ctx, `pkill -USR1 -f '^[^ ]*containerd-shim-xen-v1 ' && sleep 3`)
	})
	shimSetup.once.Do(func() { shimSetup.err = installShim(l) })
	if shimSetup.err != nil {
		t.Fatalf("install the shim in dom0: %v", shimSetup.err)
	}
	return l
}

func installShim(l *lab.Lab) error {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	script := `set -e
ln -sf /lab/payload/bin/containerd-shim-xen-v1 /usr/local/bin/containerd-shim-xen-v1
mkdir -p /etc/runxen /etc/docker
cat >/etc/runxen/config.toml <<'EOF'
log_level = "debug"
[guest]
kernel = "` + lab.PayloadGuestDir + `/vmlinuz"
initramfs = "` + lab.PayloadGuestDir + `/agent.initramfs"
[timeouts]
boot = "5m"
agent_call = "2m"
EOF
cat >/etc/docker/daemon.json <<'EOF'
{"runtimes": {"xen": {"runtimeType": "io.containerd.xen.v1"}}}
EOF
# Restart dockerd as the lab's init starts it, now with the runtime registered.
if [ -f /run/docker.pid ]; then
	pid=$(cat /run/docker.pid)
	kill "$pid" 2>/dev/null || true
	for i in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
fi
setsid -f dockerd --containerd=/run/containerd/containerd.sock >>/var/log/dockerd.log 2>&1 </dev/null
for i in $(seq 1 300); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
docker info --format '{{json .Runtimes}}' | grep -q '"xen"'
# The test image: busybox from dom0, every applet a link.
rm -rf /tmp/bbroot && mkdir -p /tmp/bbroot/bin /tmp/bbroot/tmp /tmp/bbroot/etc
cp /bin/busybox /tmp/bbroot/bin/busybox
# Relative links: busybox --install -s would point them at /tmp/bbroot, outside the image.
for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -s busybox /tmp/bbroot/bin/$a; done
echo 'root:x:0:0:root:/:/bin/sh' >/tmp/bbroot/etc/passwd
echo 'root:x:0:' >/tmp/bbroot/etc/group
tar -C /tmp/bbroot -cf /tmp/bbroot.tar .
docker import -c 'CMD ["/bin/sh"]' -c 'ENV PATH=/bin' /tmp/bbroot.tar ` + shimImage + ` >/dev/null
docker save ` + shimImage + ` | ctr2 -n default images import --all-platforms - >/dev/null
`
	r, err := l.Sh(ctx, script)
	if err != nil {
		return err
	}
	if r.ExitCode != 0 {
		return fmt.Errorf("exit %d: %s%s", r.ExitCode, r.Stdout, r.Stderr)
	}
	return nil
}

// sh runs a dom0 script and returns its result, failing t only if the channel fails.
func sh(t *testing.T, l *lab.Lab, script string) *lab.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), shimCmdTimeout)
	defer cancel()
	start := time.Now()
	r, err := l.Sh(ctx, script)
	if err != nil {
		t.Fatalf("dom0: %v", err)
	}
	t.Logf("$ %s\n(exit %d, %s)\n%s%s", script, r.ExitCode, time.Since(start).Round(time.Millisecond), r.Stdout, r.Stderr)
	return r
}

// noLeftovers checks that no runxen domain, shim or holder process, or rootfs mount is left.
func noLeftovers(t *testing.T, l *lab.Lab) {
	t.Helper()
	var out string
	for i := 0; i < 30; i++ {
		out = l.MustSh(t, `xl list | awk 'NR>1 && $1 ~ /^runxen-/ {print "domain " $1}'
pgrep -a -f '^[^ ]*containerd-shim-xen-v1 |^runxen-netns-holder ' | sed 's/^/process /' || true
grep -E ' /(run|var/lib)/containerd2?/.*io.containerd.xen.v1' /proc/self/mountinfo | sed 's/^/mount /' || true`)
		if strings.TrimSpace(out) == "" {
			return
		}
		time.Sleep(time.Second)
	}
	t.Errorf("left behind:\n%s", out)
}

func TestShimDockerRunRm(t *testing.T) {
	l := shimLab(t)
	r := sh(t, l, `docker run --rm --runtime=xen `+shimImage+` sh -c 'echo hi; exit 3'`)
	if got := strings.TrimSpace(string(r.Stdout)); got != "hi" {
		t.Errorf("stdout %q, want hi", got)
	}
	if r.ExitCode != 3 {
		t.Errorf("exit code %d, want 3", r.ExitCode)
	}
	r = sh(t, l, `docker run --rm --runtime=xen `+shimImage+` uname -r; echo "dom0 $(uname -r)"`)
	t.Logf("guest kernel vs dom0: %s", r.Stdout)
	noLeftovers(t, l)
}

// TestShimDockerRunKilled: a container killed from outside exits 137, as with runc. (A shell
// that kills itself with -9 would not do: it is PID 1 of its namespace, which ignores it.)
func TestShimDockerRunKilled(t *testing.T) {
	l := shimLab(t)
	r := sh(t, l, `docker run --rm --name shimk --runtime=xen `+shimImage+` sh -c 'echo up; while true; do sleep 1; done' >/tmp/shimk.out 2>&1 &
pid=$!
for i in $(seq 1 600); do docker logs shimk 2>/dev/null | grep -q up && break; sleep 1; done
docker kill shimk >/dev/null
wait $pid
echo "rc=$?"`)
	if got := strings.TrimSpace(string(r.Stdout)); got != "rc=137" {
		t.Errorf("docker run after docker kill: %q, want rc=137", got)
	}
	noLeftovers(t, l)
}

func TestShimDockerDetachedLogsStop(t *testing.T) {
	l := shimLab(t)
	sh(t, l, `docker rm -f shimd >/dev/null 2>&1; true`)
	r := sh(t, l, `docker run -d --name shimd --runtime=xen `+shimImage+` sh -c 'echo started; trap "echo got-term; exit 7" TERM; while true; do sleep 1; done'`)
	if r.ExitCode != 0 {
		t.Fatalf("docker run -d: exit %d", r.ExitCode)
	}
	waitLogs(t, l, "shimd", "started")
	r = sh(t, l, `docker inspect -f '{{.HostConfig.Runtime}} {{.State.Status}} {{.State.Pid}}' shimd`)
	if !strings.HasPrefix(string(r.Stdout), "xen running ") {
		t.Errorf("inspect: %q", r.Stdout)
	}
	r = sh(t, l, `docker top shimd`)
	if !strings.Contains(string(r.Stdout), "runxen-netns-holder") {
		t.Errorf("docker top does not show the holder (docs/design/shim.md): %s", r.Stdout)
	}
	sh(t, l, `docker stop -t 20 shimd`)
	r = sh(t, l, `docker inspect -f '{{.State.ExitCode}}' shimd; docker logs shimd`)
	if !strings.HasPrefix(string(r.Stdout), "7\n") || !strings.Contains(string(r.Stdout), "got-term") {
		t.Errorf("after docker stop (SIGTERM): %q, want exit 7 and got-term in the logs", r.Stdout)
	}
	sh(t, l, `docker rm shimd`)

	// A container that ignores SIGTERM is killed after the grace period.
	sh(t, l, `docker run -d --name shimd2 --runtime=xen `+shimImage+` sh -c 'trap "" TERM; echo ready; while true; do sleep 1; done'`)
	waitLogs(t, l, "shimd2", "ready")
	sh(t, l, `docker stop -t 2 shimd2`)
	r = sh(t, l, `docker inspect -f '{{.State.ExitCode}}' shimd2`)
	if strings.TrimSpace(string(r.Stdout)) != "137" {
		t.Errorf("exit after the grace period %q, want 137", r.Stdout)
	}
	sh(t, l, `docker rm shimd2`)
	noLeftovers(t, l)
}

func waitLogs(t *testing.T, l *lab.Lab, name, want string) {
	t.Helper()
	for i := 0; i < 120; i++ {
		r := sh(t, l, `docker logs `+name+` 2>&1`)
		if strings.Contains(string(r.Stdout), want) {
			return
		}
		time.Sleep(2 * time.Second)
	}
	t.Fatalf("docker logs %s never showed %q", name, want)
}

func TestShimDockerExecStatsPause(t *testing.T) {
	l := shimLab(t)
	sh(t, l, `docker rm -f shimx >/dev/null 2>&1; true`)
	if r := sh(t, l, `docker run -d --name shimx --runtime=xen `+shimImage+` sh -c 'echo up; while true; do sleep 1; done'`); r.ExitCode != 0 {
		t.Fatalf("docker run -d: exit %d", r.ExitCode)
	}
	defer sh(t, l, `docker rm -f shimx`)
	waitLogs(t, l, "shimx", "up")

	t.Run("exec", func(t *testing.T) {
		r := sh(t, l, `docker exec shimx sh -c 'echo from-exec; exit 5'`)
		if strings.TrimSpace(string(r.Stdout)) != "from-exec" || r.ExitCode != 5 {
			t.Errorf("docker exec: %q, exit %d; want from-exec, 5", r.Stdout, r.ExitCode)
		}
		r = sh(t, l, `echo piped | docker exec -i shimx cat`)
		if strings.TrimSpace(string(r.Stdout)) != "piped" {
			t.Errorf("docker exec -i: %q", r.Stdout)
		}
	})
	t.Run("stats", func(t *testing.T) {
		r := sh(t, l, `docker stats --no-stream --format '{{.CPUPerc}} {{.MemUsage}}' shimx`)
		m := regexp.MustCompile(`^([0-9.]+)% ([0-9.]+)([KMG]i?B)`).FindStringSubmatch(strings.TrimSpace(string(r.Stdout)))
		if r.ExitCode != 0 || m == nil {
			t.Fatalf("docker stats: %q", r.Stdout)
		}
		if mem, _ := strconv.ParseFloat(m[2], 64); mem == 0 {
			t.Errorf("memory usage is zero: %q", r.Stdout)
		}
	})
	t.Run("pause", func(t *testing.T) {
		sh(t, l, `docker pause shimx`)
		r := sh(t, l, `docker inspect -f '{{.State.Status}}' shimx`)
		if strings.TrimSpace(string(r.Stdout)) != "paused" {
			t.Errorf("after pause: %q", r.Stdout)
		}
		sh(t, l, `docker unpause shimx`)
		r = sh(t, l, `docker exec shimx echo alive`)
		if strings.TrimSpace(string(r.Stdout)) != "alive" {
			t.Errorf("exec after unpause: %q", r.Stdout)
		}
	})
}

func TestShimDockerStdin(t *testing.T) {
	l := shimLab(t)
	r := sh(t, l, `echo x | docker run --rm -i --runtime=xen `+shimImage+` cat`)
	if strings.TrimSpace(string(r.Stdout)) != "x" || r.ExitCode != 0 {
		t.Errorf("echo x | docker run -i cat: %q, exit %d", r.Stdout, r.ExitCode)
	}
}

func TestShimDockerTerminal(t *testing.T) {
	l := shimLab(t)
	// script(1) gives docker a terminal of 30 rows and 100 columns; the container gets a
	// terminal of its own, resized to match (ResizePty).
	r := sh(t, l, `script -qec "stty rows 30 cols 100; docker run --rm -it --runtime=xen `+shimImage+` sh -c 'tty; sleep 1; stty size'" /dev/null </dev/null`)
	out := string(r.Stdout)
	if !strings.Contains(out, "/dev/pts/") {
		t.Errorf("docker run -it: no terminal in the container: %q", out)
	}
	if !strings.Contains(out, "30 100") {
		t.Errorf("docker run -it: the container's terminal is not 30x100: %q", out)
	}
}

func TestShimCtrContainerd2(t *testing.T) {
	l := shimLab(t)
	r := sh(t, l, `ctr2 -n default run --rm --runtime io.containerd.xen.v1 docker.io/library/`+shimImage+` shimctr sh -c 'echo hi-ctr; exit 3'`)
	if strings.TrimSpace(string(r.Stdout)) != "hi-ctr" || r.ExitCode != 3 {
		t.Errorf("ctr run: %q, exit %d; want hi-ctr, 3", r.Stdout, r.ExitCode)
	}
	noLeftovers(t, l)
}

// TestShimSurvivesContainerdRestart: containerd restarts while a container runs; the shim
// carries on, containerd reconnects through the bundle's address, and exec and stop still work.
func TestShimSurvivesContainerdRestart(t *testing.T) {
	l := shimLab(t)
	t.Run("containerd 1.7 under docker", func(t *testing.T) {
		sh(t, l, `docker rm -f shimr >/dev/null 2>&1; true`)
		if r := sh(t, l, `docker run -d --name shimr --runtime=xen `+shimImage+` sh -c 'echo up; while true; do sleep 1; done'`); r.ExitCode != 0 {
			t.Fatalf("docker run -d: exit %d", r.ExitCode)
		}
		defer sh(t, l, `docker rm -f shimr`)
		waitLogs(t, l, "shimr", "up")
		r := sh(t, l, `set -e
pid=$(pgrep -xf 'containerd --log-level info')
kill "$pid"
for i in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
setsid -f containerd --log-level info >>/var/log/containerd.log 2>&1 </dev/null
for i in $(seq 1 300); do ctr version >/dev/null 2>&1 && break; sleep 0.5; done
ctr version >/dev/null`)
		if r.ExitCode != 0 {
			t.Fatalf("restart containerd: exit %d", r.ExitCode)
		}
		var out string
		for i := 0; i < 30; i++ {
			r = sh(t, l, `docker exec shimr echo after-restart`)
			if out = strings.TrimSpace(string(r.Stdout)); out == "after-restart" {
				break
			}
			time.Sleep(2 * time.Second)
		}
		if out != "after-restart" {
			t.Fatalf("docker exec after the containerd restart: %q", out)
		}
		sh(t, l, `docker stop -t 2 shimr`)
		r = sh(t, l, `docker inspect -f '{{.State.Status}}' shimr`)
		if strings.TrimSpace(string(r.Stdout)) != "exited" {
			t.Errorf("after stop: %q", r.Stdout)
		}
	})
	t.Run("containerd 2.x under ctr", func(t *testing.T) {
		sh(t, l, `ctr2 -n default task kill -s KILL shimr2 >/dev/null 2>&1; ctr2 -n default task rm -f shimr2 >/dev/null 2>&1; ctr2 -n default container rm shimr2 >/dev/null 2>&1; true`)
		if r := sh(t, l, `ctr2 -n default run -d --runtime io.containerd.xen.v1 docker.io/library/`+shimImage+` shimr2 sh -c 'while true; do sleep 1; done'`); r.ExitCode != 0 {
			t.Fatalf("ctr run -d: exit %d", r.ExitCode)
		}
		defer sh(t, l, `ctr2 -n default task kill -s KILL shimr2; sleep 2; ctr2 -n default task rm -f shimr2; ctr2 -n default container rm shimr2`)
		r := sh(t, l, `set -e
pid=$(pgrep -f '^/opt/containerd2/bin/containerd ')
kill "$pid"
for i in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
setsid -f /opt/containerd2/bin/containerd --config /etc/containerd2/config.toml >>/var/log/containerd2.log 2>&1 </dev/null
for i in $(seq 1 300); do ctr2 version >/dev/null 2>&1 && break; sleep 0.5; done
ctr2 version >/dev/null`)
		if r.ExitCode != 0 {
			t.Fatalf("restart containerd 2.x: exit %d", r.ExitCode)
		}
		r = sh(t, l, `ctr2 -n default task exec --exec-id x1 shimr2 sh -c 'echo after-restart'`)
		if strings.TrimSpace(string(r.Stdout)) != "after-restart" {
			t.Errorf("ctr task exec after the restart: %q, exit %d", r.Stdout, r.ExitCode)
		}
	})
}

func TestShimNerdctl(t *testing.T) {
	l := shimLab(t)
	r := sh(t, l, `nerdctl run --rm --net none --runtime io.containerd.xen.v1 docker.io/library/`+shimImage+` sh -c 'echo hi-nerdctl; exit 3'`)
	if strings.TrimSpace(string(r.Stdout)) != "hi-nerdctl" || r.ExitCode != 3 {
		t.Errorf("nerdctl run: %q, exit %d; want hi-nerdctl, 3", r.Stdout, r.ExitCode)
	}
	noLeftovers(t, l)
}

// TestShimDockerOptions: the run options that shape the process and its mounts reach the guest.
func TestShimDockerOptions(t *testing.T) {
	l := shimLab(t)
	r := sh(t, l, `rm -rf /tmp/shimvol && mkdir -p /tmp/shimvol && chmod 777 /tmp/shimvol && echo from-host >/tmp/shimvol/in
docker run --rm --runtime=xen -e FOO=bar -w /tmp -u 1000:1000 --read-only --tmpfs /scratch:mode=1777 -v /tmp/shimvol:/data `+shimImage+` sh -c '
echo "env=$FOO"; echo "cwd=$(pwd)"; echo "id=$(id -u):$(id -g)"
if touch /probe 2>/dev/null; then echo root=rw; else echo root=ro; fi
echo x >/scratch/f && echo tmpfs=ok
echo "vol=$(cat /data/in)"; echo from-guest >/data/out'
echo "host=$(cat /tmp/shimvol/out)"`)
	want := []string{"env=bar", "cwd=/tmp", "id=1000:1000", "root=ro", "tmpfs=ok", "vol=from-host", "host=from-guest"}
	for _, w := range want {
		if !strings.Contains(string(r.Stdout), w+"\n") {
			t.Errorf("missing %q in:\n%s", w, r.Stdout)
		}
	}
	noLeftovers(t, l)
}

// TestShimDockerFiles: what the container writes reaches the host's view of its root, so
// docker diff, cp and commit see it; and what docker cp puts there reaches the container.
func TestShimDockerFiles(t *testing.T) {
	l := shimLab(t)
	sh(t, l, `docker rm -f shimf >/dev/null 2>&1; docker rmi -f runxen-test:committed >/dev/null 2>&1; true`)
	if r := sh(t, l, `docker run -d --name shimf --runtime=xen `+shimImage+` sh -c 'echo made-in-guest >/made; echo up; while true; do sleep 1; done'`); r.ExitCode != 0 {
		t.Fatalf("docker run -d: exit %d", r.ExitCode)
	}
	defer sh(t, l, `docker rm -f shimf; docker rmi -f runxen-test:committed`)
	waitLogs(t, l, "shimf", "up")
	r := sh(t, l, `docker diff shimf`)
	if !strings.Contains(string(r.Stdout), "A /made") {
		t.Errorf("docker diff: %q", r.Stdout)
	}
	r = sh(t, l, `docker cp shimf:/made /tmp/shimf-made && cat /tmp/shimf-made`)
	if strings.TrimSpace(string(r.Stdout)) != "made-in-guest" {
		t.Errorf("docker cp out: %q", r.Stdout)
	}
	r = sh(t, l, `echo put-by-host >/tmp/shimf-in && docker cp /tmp/shimf-in shimf:/in && docker exec shimf cat /in`)
	if strings.TrimSpace(string(r.Stdout)) != "put-by-host" {
		t.Errorf("docker cp in: %q", r.Stdout)
	}
	r = sh(t, l, `docker commit shimf runxen-test:committed >/dev/null && docker run --rm --runtime=xen runxen-test:committed cat /made`)
	if strings.TrimSpace(string(r.Stdout)) != "made-in-guest" {
		t.Errorf("the committed image: %q", r.Stdout)
	}
}

func TestShimDockerRestart(t *testing.T) {
	l := shimLab(t)
	sh(t, l, `docker rm -f shimrs >/dev/null 2>&1; true`)
	if r := sh(t, l, `docker run -d --name shimrs --runtime=xen `+shimImage+` sh -c 'echo boot >>/boots; echo up; while true; do sleep 1; done'`); r.ExitCode != 0 {
		t.Fatalf("docker run -d: exit %d", r.ExitCode)
	}
	defer sh(t, l, `docker rm -f shimrs`)
	waitLogs(t, l, "shimrs", "up")
	sh(t, l, `docker restart -t 2 shimrs`)
	var out string
	for i := 0; i < 60; i++ {
		out = strings.TrimSpace(string(sh(t, l, `docker exec shimrs cat /boots`).Stdout))
		if out == "boot\nboot" {
			break
		}
		time.Sleep(2 * time.Second)
	}
	if out != "boot\nboot" {
		t.Errorf("after docker restart, /boots is %q: want two boots", out)
	}
}
