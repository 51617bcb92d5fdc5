package netns

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/containerd/log"
	"golang.org/x/sys/unix"
)

// Cleanup kills the holders for id that outlived the process that started
// them, for the shim's `delete` action after a crash. A holder normally
// dies with its shim twice over (parent-death signal and the lifeline's
// EOF) and leaves nothing else, so Cleanup usually finds nothing. A holder
// whose starter is still its parent is never touched: that is a live
// shim's, possibly for the same id in another containerd namespace.
func Cleanup(ctx context.Context, id string) error {
	if err := checkID(id); err != nil {
		return err
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return fmt.Errorf("clean up holders for %s: %w", id, err)
	}
	var errs []error
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid <= 0 {
			continue
		}
		if !orphanHolder(pid, id) {
			continue
		}
		if err := killOrphan(ctx, pid, id); err != nil {
			errs = append(errs, err)
			continue
		}
		log.G(ctx).WithFields(log.Fields{"id": id, "pid": pid}).Warn("killed an orphaned network namespace holder")
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("clean up holders for %s: %w", id, err)
	}
	return nil
}

// orphanHolder reads /proc/<pid>; a process that vanished meanwhile, or
// whose files cannot be read, is not one.
func orphanHolder(pid int, id string) bool {
	dir := "/proc/" + strconv.Itoa(pid) + "/"
	cmdline, err := os.ReadFile(dir + "cmdline")
	if err != nil {
		return false
	}
	argv := splitNUL(cmdline)
	if len(argv) < 2 || argv[0] != holderArgv0 || argv[1] != id {
		return false // cheap test first: environ needs more privilege
	}
	environ, err := os.ReadFile(dir + "environ")
	if err != nil {
		return false
	}
	parent, ok := holderOf(argv, splitNUL(environ), id)
	if !ok {
		return false
	}
	stat, err := os.ReadFile(dir + "stat")
	if err != nil {
		return false
	}
	ppid, err := parsePPid(stat)
	return err == nil && ppid != parent
}

func killOrphan(ctx context.Context, pid int, id string) error {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		if errors.Is(err, unix.ESRCH) {
			return nil
		}
		return fmt.Errorf("pidfd of holder %d: %w", pid, err)
	}
	defer unix.Close(fd)
	// The pidfd pins the process we now look at: if the pid was reused
	// since the scan, this check sees the newcomer and spares it.
	if !orphanHolder(pid, id) {
		return nil
	}
	if err := unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0); err != nil {
		if errors.Is(err, unix.ESRCH) {
			return nil
		}
		return fmt.Errorf("kill holder %d: %w", pid, err)
	}
	// A pidfd becomes readable when its process exits; reaping it is its
	// new parent's business.
	deadline := time.Now().Add(closeTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	for {
		ms := int(time.Until(deadline).Milliseconds())
		if ms <= 0 {
			return fmt.Errorf("holder %d not gone after SIGKILL", pid)
		}
		n, err := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, ms)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("wait for holder %d: %w", pid, err)
		}
		if n > 0 {
			return nil
		}
	}
}
