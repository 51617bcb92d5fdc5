package netns

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// startFakeShim runs this test binary as a shim with one holder for id
// (see TestMain), and returns it with the holder's pid.
func startFakeShim(t *testing.T, id string, noPdeathsig, noLifeline bool) (*exec.Cmd, int) {
	t.Helper()
	cmd := exec.Command("/proc/self/exe", "-test.run=^$")
	cmd.Env = append(os.Environ(), fakeShimEnv+"="+id)
	if noPdeathsig {
		cmd.Env = append(cmd.Env, fakeShimNoPdeathsig+"=1")
	}
	if noLifeline {
		cmd.Env = append(cmd.Env, fakeShimNoLifeline+"=1")
	}
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	var pid int
	line, err := bufio.NewReader(out).ReadString('\n')
	if _, serr := fmt.Sscanf(line, fakeShimReadyLineFmt, &pid); err != nil || serr != nil {
		t.Fatalf("fake shim said %q (%v, %v)", line, err, serr)
	}
	return cmd, pid
}

// subreaper makes this process inherit its descendants' orphans, so a
// holder whose shim died can be reaped (and seen to exit) here.
func subreaper(t *testing.T) {
	t.Helper()
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		t.Skipf("PR_SET_CHILD_SUBREAPER: %v", err)
	}
	t.Cleanup(func() { unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0) })
}

func reap(t *testing.T, pid int) {
	t.Helper()
	var ws unix.WaitStatus
	// ECHILD is no failure: the holder's exit was already seen through
	// its pidfd, and (rarely, seen in one run in fifteen) it was not our
	// child to reap at that moment, so no zombie of ours is left either.
	if _, err := unix.Wait4(pid, &ws, 0, nil); err != nil && err != unix.ECHILD {
		t.Errorf("reap holder %d: %v", pid, err)
	}
}

// TestShimCrash kills a shim with SIGKILL and checks that its holder goes
// too, by each of the two mechanisms alone and by both.
func TestShimCrash(t *testing.T) {
	needAdmin(t)
	subreaper(t)
	for _, tc := range []struct {
		name                    string
		noPdeathsig, noLifeline bool
	}{
		{"both", false, false},
		{"parent-death signal only", false, true},
		{"lifeline only", true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := "crash-" + tc.name
			shim, holder := startFakeShim(t, id, tc.noPdeathsig, tc.noLifeline)
			fd := pidfd(t, holder)
			if err := shim.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			shim.Wait()
			if !waitExit(t, fd, 10*time.Second) {
				t.Fatalf("holder %d still running 10s after its shim was killed", holder)
			}
			reap(t, holder)
			noHolders(t, id)
		})
	}
}

// TestCleanup: a holder that escaped both mechanisms is killed by Cleanup,
// while a live shim's holder for the same id is spared.
func TestCleanup(t *testing.T) {
	needAdmin(t)
	subreaper(t)
	const id = "orphan"
	live, err := NewHolder(ctxT(t), id, netSpec(""))
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()

	shim, orphan := startFakeShim(t, id, true, true)
	fd := pidfd(t, orphan)
	if err := shim.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	shim.Wait()
	if waitExit(t, fd, 300*time.Millisecond) {
		t.Fatal("the holder died with its shim although both mechanisms were off")
	}
	if err := Cleanup(ctxT(t), id); err != nil {
		t.Fatalf("Cleanup: %v", err)
	}
	if !waitExit(t, fd, 0) {
		t.Fatal("orphan still running after Cleanup")
	}
	reap(t, orphan)
	select {
	case <-live.Done():
		t.Fatalf("Cleanup killed a live shim's holder: %v", live.Err())
	default:
	}
	if pids := holderPids(t, id); len(pids) != 1 || pids[0] != live.Pid() {
		t.Errorf("holders for %s after Cleanup: %v, want only the live one (%d)", id, pids, live.Pid())
	}
	if err := Cleanup(ctxT(t), id); err != nil {
		t.Errorf("second Cleanup: %v", err)
	}
}
