package netns

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

const capSysAdmin = 21

// needAdmin skips tests that make or join namespaces without the
// privilege to.
func needAdmin(t testing.TB) {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skipf("read /proc/self/status: %v", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "CapEff:"); ok {
			caps, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err == nil && caps&(1<<capSysAdmin) != 0 {
				return
			}
		}
	}
	t.Skip("needs CAP_SYS_ADMIN (run the tests as root) to create and join network namespaces")
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// pinnedNetNS makes a network namespace kept alive by a bind mount in a
// temporary directory, as CNI and `ip netns add` do, and removes it after
// the test.
func pinnedNetNS(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "netns")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		// The thread visits the new namespace and comes back before it is
		// unlocked. It must come back: the goroutine may run on the main
		// thread, which the runtime never ends, and /proc/self/ns/net (the
		// holder's check of "the shim's namespace") reads the main thread.
		runtime.LockOSThread()
		orig, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			errc <- err
			return // still locked: the runtime ends this thread
		}
		defer orig.Close()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			errc <- err
			return
		}
		err = unix.Mount("/proc/thread-self/ns/net", path, "", unix.MS_BIND, "")
		if serr := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); serr != nil {
			errc <- errors.Join(err, fmt.Errorf("return to the original namespace: %w", serr))
			return // stays locked in the wrong namespace: the runtime ends it
		}
		runtime.UnlockOSThread()
		errc <- err
	}()
	if err := <-errc; err != nil {
		t.Fatalf("pin a network namespace at %s: %v", path, err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(path, unix.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", path, err)
		}
	})
	return path
}

func nsOf(t testing.TB, path string) nsID {
	t.Helper()
	id, err := idOfPath(path)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// holderPids lists the processes that are holders for id, whoever
// started them.
func holderPids(t testing.TB, id string) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil {
			continue
		}
		if argv := splitNUL(b); len(argv) >= 2 && argv[0] == holderArgv0 && argv[1] == id {
			pids = append(pids, pid)
		}
	}
	return pids
}

func noHolders(t testing.TB, id string) {
	t.Helper()
	if pids := holderPids(t, id); len(pids) > 0 {
		t.Errorf("holders for %s still there: %v", id, pids)
	}
}

// nsfsMounts lists the namespace files mounted anywhere, the trace a
// holder would leave if it pinned its namespace.
func nsfsMounts(t testing.TB) map[string]bool {
	t.Helper()
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m := map[string]bool{}
	s := bufio.NewScanner(f)
	for s.Scan() {
		if _, rest, ok := strings.Cut(s.Text(), " - "); ok && strings.HasPrefix(rest, "nsfs ") {
			m[s.Text()] = true
		}
	}
	return m
}

func openFDs(t testing.TB) int {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(entries)
}

// alive says whether pid exists (as a live process or an unreaped zombie).
func alive(pid int) bool {
	return !errors.Is(unix.Kill(pid, 0), unix.ESRCH)
}

// waitExit waits for the process behind pidfd to exit.
func waitExit(t testing.TB, pidfd int, within time.Duration) bool {
	t.Helper()
	n, err := unix.Poll([]unix.PollFd{{Fd: int32(pidfd), Events: unix.POLLIN}}, int(within.Milliseconds()))
	if err != nil && err != unix.EINTR {
		t.Fatalf("poll pidfd: %v", err)
	}
	return n > 0
}

func pidfd(t testing.TB, pid int) int {
	t.Helper()
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		t.Fatalf("pidfd_open %d: %v", pid, err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return fd
}
