package netns

import (
	"fmt"
	"os"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The rest of the holder's contract (see protocol.go).
const (
	envJoin = "RUNXEN_NETNS_HOLDER_JOIN" // "1": setns into fdNetNS

	fdLifeline = 3 // read end of a pipe only the parent can write: EOF means the parent is gone
	fdStatus   = 4 // write end: readyMsg, or why the holder could not start
	fdNetNS    = 5 // the namespace to join (join mode only)

	readyMsg = "ready"

	// holderComm is the holder's command name (15 bytes at most), which
	// `ps -e` shows; exec through /proc/self/exe would leave it "exe".
	holderComm = "runxen-netns"
)

func init() {
	if len(os.Args) < 2 || os.Args[0] != holderArgv0 {
		return
	}
	if id, ok := os.LookupEnv(envID); !ok || id != os.Args[1] {
		return
	}
	os.Exit(holderMain())
}

// holderMain runs in init, before the program's own main and with the
// main goroutine still locked to the main thread, which is the thread
// group leader whose namespace /proc/<pid>/ns/net shows. The lock is
// made explicit here so the setns cannot land on another thread.
func holderMain() int {
	runtime.LockOSThread()
	_ = unix.Prctl(unix.PR_SET_NAME, uintptr(unsafe.Pointer(&[]byte(holderComm + "\x00")[0])), 0, 0, 0)
	if os.Getenv(envJoin) == "1" {
		if err := unix.Setns(fdNetNS, unix.CLONE_NEWNET); err != nil {
			report(fmt.Sprintf("setns: %v", err))
			return 1
		}
		unix.Close(fdNetNS)
	}
	report(readyMsg)
	// Park until the parent closes the lifeline or dies (the kernel
	// closes its end then). SIGKILL from Close or from the parent-death
	// signal ends this too.
	var b [1]byte
	for {
		n, err := unix.Read(fdLifeline, b[:])
		if err == unix.EINTR {
			continue
		}
		if n <= 0 || err != nil {
			return 0
		}
	}
}

func report(msg string) {
	for b := []byte(msg); len(b) > 0; {
		n, err := unix.Write(fdStatus, b)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			break
		}
		b = b[n:]
	}
	unix.Close(fdStatus)
}
