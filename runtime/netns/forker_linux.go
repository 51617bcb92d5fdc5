package netns

import (
	"os/exec"
	"runtime"
	"sync"
)

// Linux sends the parent-death signal (PR_SET_PDEATHSIG) when the THREAD
// that forked the child exits, not when its process does. The Go runtime
// does end threads now and then (a goroutine that exits while locked to
// its thread takes the thread with it), and any goroutine may run on any
// thread, so a holder forked from an ordinary goroutine could be killed
// long before its shim dies. Holders are therefore forked from one
// goroutine that locks itself to its thread and never returns: that
// thread lives exactly as long as the shim.
var forker struct {
	once sync.Once
	reqs chan forkReq
}

type forkReq struct {
	cmd  *exec.Cmd
	done chan error
}

func startOnForker(cmd *exec.Cmd) error {
	forker.once.Do(func() {
		forker.reqs = make(chan forkReq)
		go forkLoop(forker.reqs)
	})
	r := forkReq{cmd: cmd, done: make(chan error, 1)}
	forker.reqs <- r
	return <-r.done
}

func forkLoop(reqs <-chan forkReq) {
	runtime.LockOSThread() // never unlocked, and this goroutine never returns
	for r := range reqs {
		// Start forks on the calling thread; with no non-file stdio it
		// starts no goroutines of its own, so nothing else forks.
		r.done <- r.cmd.Start()
	}
}
