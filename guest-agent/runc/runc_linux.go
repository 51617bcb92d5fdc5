//go:build linux

package runc

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/containerd/errdefs"
	gorunc "github.com/containerd/go-runc"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/runxen/runxen/guest-agent/service"
	"github.com/runxen/runxen/guest-agent/speccheck"
)

// Runc is the service.Runtime backed by the runc binary.
type Runc struct {
	cfg  Config
	seq  atomic.Uint64 // names console sockets
	mu   sync.Mutex
	logs map[string]string // container id -> runc log file; guarded by mu
}

var _ service.Runtime = (*Runc)(nil)

// New returns a Runc.
func New(cfg Config) *Runc {
	if cfg.Binary == "" {
		cfg.Binary = DefaultBinary
	}
	if cfg.Root == "" {
		cfg.Root = DefaultRoot
	}
	if cfg.SocketDir == "" {
		cfg.SocketDir = DefaultSocketDir
	}
	return &Runc{cfg: cfg, logs: map[string]string{}}
}

func (r *Runc) client(logFile string) *gorunc.Runc {
	return &gorunc.Runc{
		Command:   r.cfg.Binary,
		Root:      r.cfg.Root,
		Log:       logFile,
		LogFormat: gorunc.JSON,
	}
}

// forID returns the client of a created container, logging into its
// bundle; unknown ids (the container was created by an earlier agent, which
// cannot happen in a guest booted for one container) log nowhere.
func (r *Runc) forID(id string) (*gorunc.Runc, string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	lf := r.logs[id]
	return r.client(lf), lf
}

// Capabilities asks runc what it honours, for speccheck.
func (r *Runc) Capabilities(ctx context.Context) (speccheck.Capabilities, error) {
	c := r.client("")
	v, err := c.Version(ctx)
	if err != nil {
		return speccheck.Runc11(), fmt.Errorf("runc --version: %w", err)
	}
	feat, err := c.Features(ctx)
	if err != nil {
		feat = nil // runc before 1.1 has no `features`; the version decides
	}
	return speccheck.ForRunc("runc version "+v.Runc, feat), nil
}

// Version returns runc's version string.
func (r *Runc) Version(ctx context.Context) (string, error) {
	v, err := r.client("").Version(ctx)
	if err != nil {
		return "", err
	}
	return v.Runc, nil
}

func (r *Runc) Create(ctx context.Context, id, bundle string, ioc service.IOConfig) (int, service.ProcessIO, error) {
	logFile := filepath.Join(bundle, "runc.log.json")
	r.mu.Lock()
	r.logs[id] = logFile
	r.mu.Unlock()
	c := r.client(logFile)
	pidFile := filepath.Join(bundle, "init.pid")
	opts := &gorunc.CreateOpts{PidFile: pidFile}
	st, err := r.prepareIO(ioc)
	if err != nil {
		return 0, service.ProcessIO{}, err
	}
	defer st.closeSocket()
	st.set(&opts.IO, &opts.ConsoleSocket)
	mark := logSize(logFile)
	if err := c.Create(ctx, id, bundle, opts); err != nil {
		st.abort()
		return 0, service.ProcessIO{}, runcError("create", err, logFile, mark)
	}
	return r.finish(ctx, st, pidFile, func() { _ = c.Delete(context.WithoutCancel(ctx), id, &gorunc.DeleteOpts{Force: true}) })
}

func (r *Runc) Start(ctx context.Context, id string) error {
	c, lf := r.forID(id)
	mark := logSize(lf)
	if err := c.Start(ctx, id); err != nil {
		return runcError("start", err, lf, mark)
	}
	return nil
}

func (r *Runc) Exec(ctx context.Context, id, execID string, proc *specs.Process, ioc service.IOConfig) (int, service.ProcessIO, error) {
	c, lf := r.forID(id)
	dir := filepath.Dir(lf)
	if lf == "" {
		dir = os.TempDir()
	}
	pidFile := filepath.Join(dir, "exec-"+execID+".pid")
	defer os.Remove(pidFile)
	st, err := r.prepareIO(ioc)
	if err != nil {
		return 0, service.ProcessIO{}, err
	}
	defer st.closeSocket()
	opts := &gorunc.ExecOpts{PidFile: pidFile, Detach: true}
	st.set(&opts.IO, &opts.ConsoleSocket)
	mark := logSize(lf)
	if err := c.Exec(ctx, id, *proc, opts); err != nil {
		st.abort()
		return 0, service.ProcessIO{}, runcError("exec", err, lf, mark)
	}
	return r.finish(ctx, st, pidFile, func() {})
}

func (r *Runc) Kill(ctx context.Context, id string, sig syscall.Signal, all bool) error {
	c, lf := r.forID(id)
	mark := logSize(lf)
	if err := c.Kill(ctx, id, int(sig), &gorunc.KillOpts{All: all}); err != nil {
		return runcError("kill", err, lf, mark)
	}
	return nil
}

func (r *Runc) Signal(pid int, sig syscall.Signal) error {
	if err := unix.Kill(pid, sig); err != nil {
		if errors.Is(err, unix.ESRCH) {
			return fmt.Errorf("signal pid %d: %w: process already finished", pid, errdefs.ErrNotFound)
		}
		return fmt.Errorf("signal pid %d: %w", pid, err)
	}
	return nil
}

func (r *Runc) Delete(ctx context.Context, id string) error {
	c, lf := r.forID(id)
	mark := logSize(lf)
	if err := c.Delete(ctx, id, &gorunc.DeleteOpts{Force: true}); err != nil {
		return runcError("delete", err, lf, mark)
	}
	r.mu.Lock()
	delete(r.logs, id)
	r.mu.Unlock()
	return nil
}

func (r *Runc) Pause(ctx context.Context, id string) error {
	c, lf := r.forID(id)
	mark := logSize(lf)
	if err := c.Pause(ctx, id); err != nil {
		return runcError("pause", err, lf, mark)
	}
	return nil
}

func (r *Runc) Resume(ctx context.Context, id string) error {
	c, lf := r.forID(id)
	mark := logSize(lf)
	if err := c.Resume(ctx, id); err != nil {
		return runcError("resume", err, lf, mark)
	}
	return nil
}

func (r *Runc) Update(ctx context.Context, id string, res *specs.LinuxResources) error {
	c, lf := r.forID(id)
	mark := logSize(lf)
	if err := c.Update(ctx, id, res); err != nil {
		return runcError("update", err, lf, mark)
	}
	return nil
}

// ioSetup is the stdio of a process being created.
type ioSetup struct {
	io     gorunc.IO      // pipes, without a terminal
	socket *gorunc.Socket // console socket, with a terminal
	stdin  bool
}

func (r *Runc) prepareIO(ioc service.IOConfig) (*ioSetup, error) {
	st := &ioSetup{stdin: ioc.Stdin}
	if ioc.Terminal {
		if err := os.MkdirAll(r.cfg.SocketDir, 0o700); err != nil {
			return nil, fmt.Errorf("console socket directory: %w", err)
		}
		// Short names: a unix socket path must fit in 108 bytes.
		p := filepath.Join(r.cfg.SocketDir, strconv.FormatUint(r.seq.Add(1), 10)+".sock")
		_ = os.Remove(p)
		s, err := gorunc.NewConsoleSocket(p)
		if err != nil {
			return nil, fmt.Errorf("console socket: %w", err)
		}
		st.socket = s
		return st, nil
	}
	pio, err := gorunc.NewPipeIO(ioc.UID, ioc.GID, func(o *gorunc.IOOption) { o.OpenStdin = ioc.Stdin })
	if err != nil {
		return nil, fmt.Errorf("stdio pipes: %w", err)
	}
	st.io = pio
	return st, nil
}

// set fills go-runc's options, leaving unused ones nil interfaces (a nil
// *Socket in a ConsoleSocket would be taken as a console request).
func (st *ioSetup) set(io *gorunc.IO, socket *gorunc.ConsoleSocket) {
	if st.io != nil {
		*io = st.io
	}
	if st.socket != nil {
		*socket = st.socket
	}
}

func (st *ioSetup) closeSocket() {
	if st.socket != nil {
		st.socket.Close()
	}
}

// abort releases the agent's ends after a failed command.
func (st *ioSetup) abort() {
	if st.io != nil {
		st.io.Close()
	}
}

// finish reads the PID file and collects the agent's ends of the stdio;
// on failure it calls undo (which removes a created container).
func (r *Runc) finish(ctx context.Context, st *ioSetup, pidFile string, undo func()) (int, service.ProcessIO, error) {
	var pio service.ProcessIO
	if st.socket != nil {
		con, err := receiveMaster(ctx, st.socket)
		if err != nil {
			undo()
			return 0, pio, fmt.Errorf("receive pty master from runc: %w", err)
		}
		pio.Console = con
	} else {
		if st.stdin {
			pio.Stdin = st.io.Stdin()
		}
		pio.Stdout, pio.Stderr = st.io.Stdout(), st.io.Stderr()
	}
	pid, err := readPidFile(pidFile)
	if err != nil {
		pio.Close()
		undo()
		return 0, service.ProcessIO{}, err
	}
	return pid, pio, nil
}

// receiveMaster takes the pty master runc sent to the console socket (it
// did so before its command returned) and makes it a pollable file.
func receiveMaster(ctx context.Context, s *gorunc.Socket) (*os.File, error) {
	type result struct {
		f   *os.File
		err error
	}
	ch := make(chan result, 1)
	go func() {
		con, err := s.ReceiveMaster()
		if err != nil {
			ch <- result{nil, err}
			return
		}
		defer con.Close()
		fd, err := unix.Dup(int(con.Fd()))
		if err == nil {
			unix.CloseOnExec(fd)
			err = unix.SetNonblock(fd, true)
			if err != nil {
				unix.Close(fd)
			}
		}
		if err != nil {
			ch <- result{nil, err}
			return
		}
		ch <- result{os.NewFile(uintptr(fd), "pty-master"), nil}
	}()
	select {
	case r := <-ch:
		return r.f, r.err
	case <-ctx.Done():
		s.Close() // ends Accept
		if r := <-ch; r.f != nil {
			r.f.Close()
		}
		return nil, ctx.Err()
	}
}

func readPidFile(path string) (int, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("read runc pid file: %w", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("runc pid file %s: %q is not a pid", path, data)
	}
	return pid, nil
}

func logSize(path string) int64 {
	if path == "" {
		return 0
	}
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// runcError wraps a failed runc command's error with the last error runc
// logged since offset mark: with pipe stdio, runc's stderr is the
// container's, so its log file is where its reason is.
func runcError(op string, err error, logFile string, mark int64) error {
	msg := lastLogError(logFile, mark)
	if msg == "" {
		return fmt.Errorf("OCI runtime %s failed: %w", op, err)
	}
	return fmt.Errorf("OCI runtime %s failed: %s: %w", op, msg, err)
}

// maxLogRead bounds how much of runc's log one error reads.
const maxLogRead = 64 << 10

func lastLogError(path string, mark int64) string {
	if path == "" {
		return ""
	}
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return ""
	}
	mark = max(mark, fi.Size()-maxLogRead)
	if _, err := f.Seek(mark, io.SeekStart); err != nil {
		return ""
	}
	return parseLastError(io.LimitReader(f, maxLogRead))
}

// parseLastError returns the msg of the last level "error" entry of
// runc's JSON log.
func parseLastError(r io.Reader) string {
	var last string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxLogRead)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		var e struct {
			Level string `json:"level"`
			Msg   string `json:"msg"`
		}
		if json.Unmarshal(line, &e) == nil && e.Level == "error" && e.Msg != "" {
			last = e.Msg
		}
	}
	return last
}
