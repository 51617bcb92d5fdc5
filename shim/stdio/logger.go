package stdio

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"
	"time"

	"github.com/containerd/log"
)

// Timeouts of a logging binary's life.
const (
	// LoggerReadyTimeout bounds the wait for a logging binary to say it
	// is ready, beyond the caller's context.
	LoggerReadyTimeout = 30 * time.Second
	// LoggerExitTimeout is how long a logging binary gets to finish after
	// the end of its streams, and again after SIGTERM, before SIGKILL.
	LoggerExitTimeout = 5 * time.Second
)

// logger is a running logging binary (binary:// URI). Its protocol, as
// containerd defines it: the program gets the container's stdout on fd 3
// and stderr on fd 4, CONTAINER_ID and CONTAINER_NAMESPACE in its
// environment, and closes (or writes to) fd 5 once it is ready to read.
type logger struct {
	cmd            *exec.Cmd
	stdout, stderr *os.File // write ends; the program has the read ends
	exited         chan struct{}
}

func startLogger(ctx context.Context, t Target, owner Owner) (_ *logger, retErr error) {
	var files []*os.File
	closeAll := func() {
		for _, f := range files {
			f.Close()
		}
	}
	pipe := func() (r, w *os.File, err error) {
		r, w, err = os.Pipe()
		if err == nil {
			files = append(files, r, w)
		}
		return r, w, err
	}
	outR, outW, err := pipe()
	if err != nil {
		closeAll()
		return nil, fmt.Errorf("logging binary %s: %w", t.Path, err)
	}
	errR, errW, err := pipe()
	if err != nil {
		closeAll()
		return nil, fmt.Errorf("logging binary %s: %w", t.Path, err)
	}
	readyR, readyW, err := pipe()
	if err != nil {
		closeAll()
		return nil, fmt.Errorf("logging binary %s: %w", t.Path, err)
	}
	cmd := exec.Command(t.Path, t.Args...)
	cmd.Env = []string{"CONTAINER_ID=" + owner.ContainerID, "CONTAINER_NAMESPACE=" + owner.Namespace}
	cmd.ExtraFiles = []*os.File{outR, errR, readyW}
	// Its own process group: a signal meant for the shim's group (a
	// terminal's ^C while debugging) does not cut the log short.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		closeAll()
		return nil, fmt.Errorf("start logging binary %s: %w", t.Path, err)
	}
	l := &logger{cmd: cmd, stdout: outW, stderr: errW, exited: make(chan struct{})}
	go func() {
		cmd.Wait()
		close(l.exited)
	}()
	// The program holds its ends now.
	outR.Close()
	errR.Close()
	readyW.Close()
	defer readyR.Close()
	ready := make(chan error, 1)
	go func() {
		var b [1]byte
		_, err := readyR.Read(b[:])
		if errors.Is(err, io.EOF) {
			err = nil
		}
		ready <- err
	}()
	timer := time.NewTimer(LoggerReadyTimeout)
	defer timer.Stop()
	select {
	case err = <-ready:
	case <-l.exited:
		err = fmt.Errorf("exited before it was ready: %v", cmd.ProcessState)
	case <-ctx.Done():
		err = ctx.Err()
	case <-timer.C:
		err = fmt.Errorf("not ready after %s", LoggerReadyTimeout)
	}
	if err != nil {
		readyR.Close() // ends the reading goroutine
		cmd.Process.Kill()
		<-l.exited
		outW.Close()
		errW.Close()
		return nil, fmt.Errorf("logging binary %s: %w", t.Path, err)
	}
	return l, nil
}

// stop ends the program's streams and waits for it to finish on its own;
// then it asks with SIGTERM, and finally kills it.
func (l *logger) stop() error {
	l.stdout.Close()
	l.stderr.Close()
	for _, sig := range []syscall.Signal{0, syscall.SIGTERM, syscall.SIGKILL} {
		if sig != 0 {
			if err := l.cmd.Process.Signal(sig); err != nil {
				break // it has exited
			}
			log.L.WithField("binary", l.cmd.Path).Warnf("logging binary did not exit after the end of its streams; sent %v", sig)
		}
		select {
		case <-l.exited:
			return nil
		case <-time.After(LoggerExitTimeout):
		}
	}
	<-l.exited
	return nil
}
