package stdio

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	agent "github.com/runxen/runxen/guest-agent/api/v1"
	"github.com/runxen/runxen/runtime/agentclient/agenttest"
)

// The test binary doubles as a logging binary (binary://): started for
// the namespace "logger-test", it copies fd 3 and fd 4 into the file its
// arguments name ("out <path>"), after saying it is ready on fd 5; for
// "logger-test-fail" it exits at once. (A logging binary gets no other
// environment than CONTAINER_ID and CONTAINER_NAMESPACE.)
func TestMain(m *testing.M) {
	switch os.Getenv("CONTAINER_NAMESPACE") {
	case "logger-test":
		os.Exit(loggerMain(os.Args[len(os.Args)-1]))
	case "logger-test-fail":
		os.Exit(3)
	}
	os.Exit(m.Run())
}

func loggerMain(out string) int {
	stdout, stderr, ready := os.NewFile(3, "stdout"), os.NewFile(4, "stderr"), os.NewFile(5, "ready")
	o, e := make(chan []byte), make(chan []byte)
	read := func(f *os.File, ch chan []byte) {
		b, _ := io.ReadAll(f)
		ch <- b
	}
	go read(stdout, o)
	go read(stderr, e)
	ready.Close()
	ob, eb := <-o, <-e
	msg := fmt.Sprintf("id=%s ns=%s args=%v\nout=%s\nerr=%s\n", os.Getenv("CONTAINER_ID"), os.Getenv("CONTAINER_NAMESPACE"), os.Args[1:], ob, eb)
	if err := os.WriteFile(out, []byte(msg), 0o644); err != nil {
		return 1
	}
	return 0
}

// guest is an agenttest agent with one container whose init runs prog.
func guest(t *testing.T, prog agenttest.Program, terminal, stdin bool) *agenttest.Agent {
	t.Helper()
	a := agenttest.New()
	a.Run = prog
	spec := fmt.Sprintf(`{"process":{"args":["x"],"terminal":%v},"root":{"path":"/"}}`, terminal)
	if _, err := a.CreateContainer(context.Background(), &agent.CreateContainerRequest{
		ContainerId: "c1", Spec: []byte(spec), Terminal: terminal, Stdin: stdin,
	}); err != nil {
		t.Fatal(err)
	}
	return a
}

func start(t *testing.T, a *agenttest.Agent) {
	t.Helper()
	if _, err := a.StartContainer(context.Background(), &agent.StartContainerRequest{ContainerId: "c1"}); err != nil {
		t.Fatal(err)
	}
}

// drive starts the guest's container with p copying its stdio, waits for
// its output to end and closes p; it reports whether the output ended by
// itself.
func drive(t *testing.T, a *agenttest.Agent, p *IO) bool {
	t.Helper()
	p.Start(a, "c1", "")
	start(t, a)
	ok := p.WaitOutput(5 * time.Second)
	p.Close()
	return ok
}

func writeBoth(p *agenttest.Process) uint32 {
	p.Stdout.Write([]byte("to stdout\n"))
	p.Stderr.Write([]byte("to stderr\n"))
	return 0
}

func mkfifo(t *testing.T, dir, name string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := syscall.Mkfifo(p, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// readFIFO reads a FIFO as a client does, until its writers are gone.
func readFIFO(t *testing.T, path string) <-chan string {
	ch := make(chan string, 1)
	go func() {
		f, err := os.Open(path)
		if err != nil {
			ch <- err.Error()
			return
		}
		defer f.Close()
		b, _ := io.ReadAll(f)
		ch <- string(b)
	}()
	return ch
}

func TestFIFOs(t *testing.T) {
	dir := t.TempDir()
	out, errp := mkfifo(t, dir, "out"), mkfifo(t, dir, "err")
	gotOut, gotErr := readFIFO(t, out), readFIFO(t, errp)
	a := guest(t, writeBoth, false, false)
	p, err := Open(context.Background(), Config{Stdout: out, Stderr: errp}, Owner{"ns", "c1"})
	if err != nil {
		t.Fatal(err)
	}
	if !drive(t, a, p) {
		t.Fatal("output did not end")
	}
	if s := <-gotOut; s != "to stdout\n" {
		t.Errorf("stdout %q", s)
	}
	if s := <-gotErr; s != "to stderr\n" {
		t.Errorf("stderr %q", s)
	}
}

func TestFile(t *testing.T) {
	log := filepath.Join(t.TempDir(), "sub", "c1.log")
	a := guest(t, writeBoth, false, false)
	p, err := Open(context.Background(), Config{Stdout: "file://" + log, Stderr: "file://" + log}, Owner{"ns", "c1"})
	if err != nil {
		t.Fatal(err)
	}
	drive(t, a, p)
	b, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	if s := string(b); !strings.Contains(s, "to stdout\n") || !strings.Contains(s, "to stderr\n") || len(s) != 20 {
		t.Errorf("log %q", s)
	}
}

func TestBinary(t *testing.T) {
	out := filepath.Join(t.TempDir(), "logged")
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	a := guest(t, writeBoth, false, false)
	uri := "binary://" + self + "?out=" + out
	p, err := Open(context.Background(), Config{Stdout: uri, Stderr: uri}, Owner{"logger-test", "c1"})
	if err != nil {
		t.Fatal(err)
	}
	p.Start(a, "c1", "")
	start(t, a)
	p.WaitOutput(5 * time.Second)
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	want := "id=c1 ns=logger-test args=[out " + out + "]\nout=to stdout\n\nerr=to stderr\n\n"
	if string(b) != want {
		t.Errorf("logged %q, want %q", b, want)
	}
}

func TestBinaryFails(t *testing.T) {
	self, _ := os.Executable()
	// Exiting closes its ready descriptor, which is also how a logging
	// binary says it is ready (containerd's protocol): Open refuses it if
	// it sees the exit first, and otherwise the lost destination must not
	// hold the process up.
	a := guest(t, writeBoth, false, false)
	p, err := Open(context.Background(), Config{Stdout: "binary://" + self}, Owner{"logger-test-fail", "c1"})
	if err == nil && !drive(t, a, p) {
		t.Error("output to a dead logging binary held the process")
	}
	if err != nil && !strings.Contains(err.Error(), "exited before it was ready") {
		t.Errorf("open: %v", err)
	}
	if _, err := Open(context.Background(), Config{Stdout: "binary:///nonexistent/logger"}, Owner{"ns", "c1"}); err == nil {
		t.Error("a missing logging binary was accepted")
	}
}

func TestStdin(t *testing.T) {
	for _, tc := range []struct {
		name        string
		closeWriter bool
	}{
		{"client closes its end, then CloseIO", true},
		{"CloseIO while the client keeps its end open", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			in, out := mkfifo(t, dir, "in"), mkfifo(t, dir, "out")
			got := readFIFO(t, out)
			cat := func(p *agenttest.Process) uint32 {
				b, _ := io.ReadAll(p.Stdin)
				p.Stdout.Write(bytes.ToUpper(b))
				return 0
			}
			a := guest(t, cat, false, true)
			p, err := Open(context.Background(), Config{Stdin: in, Stdout: out}, Owner{"ns", "c1"})
			if err != nil {
				t.Fatal(err)
			}
			if !p.Stdin() {
				t.Fatal("no stdin")
			}
			p.Start(a, "c1", "")
			start(t, a)
			w, err := os.OpenFile(in, os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			w.Write([]byte("hello"))
			if tc.closeWriter {
				w.Close()
			} else {
				defer w.Close()
				time.Sleep(50 * time.Millisecond) // let the copy take it
			}
			p.CloseStdin(200 * time.Millisecond)
			if !p.WaitOutput(5 * time.Second) {
				t.Fatal("output did not end")
			}
			p.Close()
			if s := <-got; s != "HELLO" {
				t.Errorf("stdout %q", s)
			}
		})
	}
}

// TestWaitOutputIdle: a stream that stays open after the exit (a
// descendant holds it) does not hold the exit up for ever.
func TestWaitOutputIdle(t *testing.T) {
	held := make(chan struct{})
	a := guest(t, func(p *agenttest.Process) uint32 {
		p.Stdout.Write([]byte("partial"))
		<-held
		return 0
	}, false, false)
	defer close(held)
	log := filepath.Join(t.TempDir(), "log")
	p, err := Open(context.Background(), Config{Stdout: "file://" + log}, Owner{"ns", "c1"})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	p.Start(a, "c1", "")
	start(t, a)
	begin := time.Now()
	if p.WaitOutput(100 * time.Millisecond) {
		t.Fatal("an open stream reported ended")
	}
	if d := time.Since(begin); d > 2*time.Second {
		t.Errorf("gave up after %s", d)
	}
	if b, _ := os.ReadFile(log); string(b) != "partial" {
		t.Errorf("delivered %q before giving up", b)
	}
}

// TestTerminal: with a terminal only stdout is read (stderr is the
// pty's output too), and a missing destination drains to nowhere.
func TestTerminalAndNoDestination(t *testing.T) {
	a := guest(t, func(p *agenttest.Process) uint32 {
		p.Stdout.Write(bytes.Repeat([]byte("y"), 3<<20))
		return 0
	}, true, false)
	p, err := Open(context.Background(), Config{Terminal: true}, Owner{"ns", "c1"})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	p.Start(a, "c1", "")
	start(t, a)
	if !p.WaitOutput(5 * time.Second) {
		t.Fatal("undelivered output held the process")
	}
	for _, c := range a.Calls() {
		if c == "ReadStderr" {
			t.Error("stderr read with a terminal")
		}
	}
}

// TestFIFOEndsWithTheStream: a FIFO's reader sees the end once the
// process's stream ended, before the process is deleted (Docker waits
// for it then: docker exec, attach).
func TestFIFOEndsWithTheStream(t *testing.T) {
	out := mkfifo(t, t.TempDir(), "out")
	got := readFIFO(t, out)
	a := guest(t, writeBoth, false, false)
	p, err := Open(context.Background(), Config{Stdout: out}, Owner{"ns", "c1"})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	p.Start(a, "c1", "")
	start(t, a)
	select {
	case s := <-got:
		if s != "to stdout\n" {
			t.Errorf("stdout %q", s)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the FIFO's reader saw no end before Close")
	}
}
