package agentclient

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"net"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/emptypb"

	agent "github.com/runxen/runxen/guest-agent/api/v1"
	"github.com/runxen/runxen/runtime/agentclient/agenttest"
	"github.com/runxen/runxen/runtime/xen"
)

// sleeper is a program that runs until signalled, then dies of the signal.
func sleeper(p *agenttest.Process) uint32 {
	sig := <-p.Signals
	return 128 + uint32(sig)
}

func createAndStart(t *testing.T, svc agent.AgentService, id string, args []string) {
	t.Helper()
	ctx := ctxT(t)
	spec, err := json.Marshal(DefaultSpec("/rootfs/busybox", args, false))
	must(t, err)
	if _, err := svc.CreateContainer(ctx, &agent.CreateContainerRequest{ContainerId: id, Spec: spec}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.StartContainer(ctx, &agent.StartContainerRequest{ContainerId: id}); err != nil {
		t.Fatal(err)
	}
}

func TestConnectAndCall(t *testing.T) {
	e := newEnv(t)
	a := agenttest.New()
	a.Run = func(p *agenttest.Process) uint32 {
		p.Stdout.Write([]byte("hi\n"))
		p.Stderr.Write([]byte("err\n"))
		return 3
	}
	// The agent comes up after dom0 started waiting for it.
	go func() {
		time.Sleep(50 * time.Millisecond)
		e.serveAgent(a)
	}()
	c, err := Connect(ctxT(t), e.config())
	must(t, err)
	defer c.Close()
	if v := c.Version(); v.ApiVersion != agent.APIVersion || v.AgentVersion != "agenttest" {
		t.Fatalf("Version = %+v", v)
	}
	if c.Domain() != e.guest {
		t.Fatalf("Domain = %d", c.Domain())
	}
	svc := c.Agent()
	createAndStart(t, svc, "c1", []string{"sh", "-c", "echo hi; echo err >&2; exit 3"})
	ctx := ctxT(t)
	var out, errb bytes.Buffer
	if _, err := CopyOutput(ctx, svc, &out, Stdout, "c1", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := CopyOutput(ctx, svc, &errb, Stderr, "c1", ""); err != nil {
		t.Fatal(err)
	}
	w, err := svc.WaitProcess(ctx, &agent.ProcessRequest{ContainerId: "c1"})
	must(t, err)
	if out.String() != "hi\n" || errb.String() != "err\n" || w.ExitStatus != 3 {
		t.Fatalf("stdout %q, stderr %q, status %d", out.String(), errb.String(), w.ExitStatus)
	}
	// An error from the agent names the domain and the call.
	_, err = svc.StartContainer(ctx, &agent.StartContainerRequest{ContainerId: "nope"})
	if err == nil || !strings.Contains(err.Error(), "agent in domain 1: StartContainer: ") || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("error for an unknown container: %v", err)
	}
	if c.Err() != nil {
		t.Fatalf("a failed call broke the connection: %v", c.Err())
	}
}

func TestConnectTimesOutWithoutAgent(t *testing.T) {
	e := newEnv(t)
	ctx, cancel := context.WithTimeout(ctxT(t), 100*time.Millisecond)
	defer cancel()
	_, err := Connect(ctx, e.config())
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "no agent vchan at /local/domain/1/data/vchan/0/runxen-agent after") {
		t.Fatalf("Connect without an agent: %v", err)
	}
	if n := e.xs.NumWatches(); n != 0 {
		t.Errorf("%d xenstore watches left behind", n)
	}
	if n := e.hv.Domain(0).Open(); n != 0 {
		t.Errorf("dom0 has %d grants/ports open", n)
	}
}

func TestConnectFailsWhenDomainDies(t *testing.T) {
	for _, tc := range []struct {
		name string
		kill func(e *env)
		want string
	}{
		{"poweroff", func(e *env) { must(e.t, e.ts.Shutdown(e.guest, xen.ReasonPoweroff)) }, "domain 1 shut down (poweroff)"},
		{"crash", func(e *env) { must(e.t, e.ts.Shutdown(e.guest, xen.ReasonCrash)) }, "domain 1 shut down (crash)"},
		{"destroy", func(e *env) { must(e.t, e.ts.Destroy(context.Background(), e.guest)) }, "domain 1 was destroyed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			go func() {
				time.Sleep(20 * time.Millisecond)
				tc.kill(e)
			}()
			start := time.Now()
			_, err := Connect(ctxT(t), e.config())
			if !errors.Is(err, ErrDomainGone) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Connect to a dying domain: %v", err)
			}
			if d := time.Since(start); d > 10*time.Second {
				t.Fatalf("Connect took %s to notice", d)
			}
		})
	}
}

func TestDomainDiesMidCall(t *testing.T) {
	e := newEnv(t)
	a := agenttest.New()
	a.Run = sleeper
	e.serveAgent(a)
	c, err := Connect(ctxT(t), e.config())
	must(t, err)
	defer c.Close()
	svc := c.Agent()
	createAndStart(t, svc, "c1", []string{"sleep", "1000"})
	waited := make(chan error, 1)
	go func() {
		_, err := svc.WaitProcess(context.Background(), &agent.ProcessRequest{ContainerId: "c1"})
		waited <- err
	}()
	time.Sleep(20 * time.Millisecond)
	must(t, e.ts.Destroy(ctxT(t), e.guest))
	select {
	case err := <-waited:
		if !errors.Is(err, ErrDomainGone) || !strings.Contains(err.Error(), "WaitProcess") || !strings.Contains(err.Error(), "was destroyed") {
			t.Fatalf("WaitProcess on a destroyed domain: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("WaitProcess hangs after the domain was destroyed")
	}
	<-c.Done()
	if _, err := svc.Version(ctxT(t), &emptypb.Empty{}); !errors.Is(err, ErrDomainGone) {
		t.Fatalf("call after death: %v", err)
	}
	must(t, c.Close())
	if n := e.hv.Domain(0).Open(); n != 0 {
		t.Errorf("dom0 has %d grants/ports open after Close", n)
	}
	if n := e.xs.NumWatches(); n != 0 {
		t.Errorf("%d xenstore watches left after Close", n)
	}
}

func TestVersionMismatch(t *testing.T) {
	e := newEnv(t)
	a := agenttest.New()
	a.APIVersion = agent.APIVersion + 1
	e.serveAgent(a)
	_, err := Connect(ctxT(t), e.config())
	if !errors.Is(err, ErrVersion) || !strings.Contains(err.Error(), "it has 2, runxen 1") {
		t.Fatalf("Connect to an agent of another version: %v", err)
	}
}

func TestMuteAgent(t *testing.T) {
	e := newEnv(t)
	conns := e.rawServer() // publishes the vchan, never answers
	cfg := e.config()
	cfg.CallTimeout = 100 * time.Millisecond
	_, err := Connect(ctxT(t), cfg)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "agent in domain 1 did not answer Version within 100ms") {
		t.Fatalf("Connect to a mute agent: %v", err)
	}
	// The guest side saw a client come and go.
	srv := <-conns
	if _, err := srv.Read(make([]byte, 64)); err != nil {
		t.Fatalf("guest read the Version request: %v", err)
	}
}

// header is a ttrpc frame header.
func header(length, stream uint32, typ, flags byte) []byte {
	b := make([]byte, frameHeaderLen)
	binary.BigEndian.PutUint32(b[0:], length)
	binary.BigEndian.PutUint32(b[4:], stream)
	b[8], b[9] = typ, flags
	return b
}

func TestGarbageFailsTheConnection(t *testing.T) {
	for _, tc := range []struct {
		name    string
		garbage []byte
		want    string
	}{
		{"oversized", header(0xffffffff, 1, frameResponse, 0), "more than ttrpc's"},
		{"request type", header(4, 1, frameRequest, 0), "type 1"},
		{"even stream", header(4, 2, frameResponse, 0), "even stream 2"},
		{"unopened stream", header(4, 99, frameResponse, 0), "never opened"},
		{"text", []byte("HTTP/1.1 400 Bad Request\r\n\r\n"), "agent broke the ttrpc protocol"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			a := agenttest.New()
			a.Run = sleeper
			inject := e.proxyAgent(a)
			c, err := Connect(ctxT(t), e.config())
			must(t, err)
			defer c.Close()
			svc := c.Agent()
			createAndStart(t, svc, "c1", []string{"sleep", "1000"})
			waited := make(chan error, 1)
			go func() {
				_, err := svc.WaitProcess(context.Background(), &agent.ProcessRequest{ContainerId: "c1"})
				waited <- err
			}()
			time.Sleep(20 * time.Millisecond)
			inject(tc.garbage)
			select {
			case err := <-waited:
				if !errors.Is(err, ErrProtocol) || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("pending call after garbage: %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("pending call hangs after garbage")
			}
			if _, err := svc.Version(ctxT(t), &emptypb.Empty{}); !errors.Is(err, ErrProtocol) {
				t.Fatalf("call after garbage: %v", err)
			}
		})
	}
}

func TestAgentCloses(t *testing.T) {
	e := newEnv(t)
	conns := e.rawServer()
	go func() {
		// Answer nothing; hang up once the client is there.
		srv := <-conns
		time.Sleep(20 * time.Millisecond)
		srv.Close()
	}()
	cfg := e.config()
	_, err := Connect(ctxT(t), cfg)
	if !errors.Is(err, ErrAgentClosed) {
		t.Fatalf("Connect to an agent that hangs up: %v", err)
	}
}

func TestConnectNeedsWaiter(t *testing.T) {
	e := newEnv(t)
	cfg := e.config()
	cfg.Waiter = nil
	if _, err := Connect(ctxT(t), cfg); err == nil {
		t.Fatal("Connect without a Waiter succeeded")
	}
	cfg = e.config()
	cfg.Domain = 0
	if _, err := Connect(ctxT(t), cfg); err == nil {
		t.Fatal("Connect to domain 0 succeeded")
	}
}

func TestLostTrackOfDomain(t *testing.T) {
	e := newEnv(t)
	e.serveAgent(agenttest.New())
	e.ts.FailNext("wait", errors.New("xenstore gone"))
	_, err := Connect(ctxT(t), e.config())
	if err == nil || !strings.Contains(err.Error(), "lost track of domain 1: ") {
		t.Fatalf("Connect when the domain cannot be watched: %v", err)
	}
}

func TestStdio(t *testing.T) {
	a := agenttest.New()
	a.Run = func(p *agenttest.Process) uint32 {
		b := make([]byte, 1000)
		for {
			n, err := p.Stdin.Read(b)
			p.Stdout.Write(b[:n])
			if err != nil {
				return 0
			}
		}
	}
	ctx := ctxT(t)
	spec, _ := json.Marshal(DefaultSpec("/r", []string{"cat"}, false))
	_, err := a.CreateContainer(ctx, &agent.CreateContainerRequest{ContainerId: "c", Spec: spec, Stdin: true})
	must(t, err)
	_, err = a.StartContainer(ctx, &agent.StartContainerRequest{ContainerId: "c"})
	must(t, err)
	in := bytes.Repeat([]byte("0123456789abcdef"), 100000) // 1.6 MB: several chunks
	go func() {
		if _, err := CopyStdin(ctx, a, bytes.NewReader(in), "c", "", true); err != nil {
			t.Error(err)
		}
	}()
	var out bytes.Buffer
	n, err := CopyOutput(ctx, a, &out, Stdout, "c", "")
	must(t, err)
	if n != int64(len(in)) || !bytes.Equal(out.Bytes(), in) {
		t.Fatalf("cat returned %d bytes, want %d identical", n, len(in))
	}
}

// lyingAgent returns more than asked, or takes more than given.
type lyingAgent struct{ agent.AgentService }

func (lyingAgent) ReadStdout(context.Context, *agent.ReadStreamRequest) (*agent.ReadStreamResponse, error) {
	return &agent.ReadStreamResponse{Data: make([]byte, ReadChunk+1)}, nil
}

func (lyingAgent) WriteStdin(_ context.Context, r *agent.WriteStdinRequest) (*agent.WriteStdinResponse, error) {
	return &agent.WriteStdinResponse{Len: uint32(len(r.Data)) + 1}, nil
}

func TestStdioRejectsLies(t *testing.T) {
	ctx := ctxT(t)
	if _, err := CopyOutput(ctx, lyingAgent{}, &bytes.Buffer{}, Stdout, "c", ""); !errors.Is(err, ErrProtocol) {
		t.Fatalf("CopyOutput from a lying agent: %v", err)
	}
	if _, err := WriteStdin(ctx, lyingAgent{}, []byte("x"), "c", "e"); !errors.Is(err, ErrProtocol) {
		t.Fatalf("WriteStdin to a lying agent: %v", err)
	}
}

func TestDefaultSpec(t *testing.T) {
	s := DefaultSpec("/rootfs/busybox", []string{"sh"}, true)
	b, err := json.Marshal(s)
	must(t, err)
	for _, want := range []string{`"path":"/rootfs/busybox"`, `"terminal":true`, `"TERM=xterm"`, `"CAP_KILL"`, `"/dev/pts"`, `"type":"pid"`} {
		if !bytes.Contains(b, []byte(want)) {
			t.Errorf("spec lacks %s: %s", want, b)
		}
	}
	if DefaultProcess([]string{"x"}, false).Terminal {
		t.Error("terminal without asking")
	}
	_ = syscall.SIGTERM
}

// countingConn counts the bytes read through it.
type countingConn struct {
	net.Conn
	n atomic.Int64
}

func (c *countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.n.Add(int64(n))
	return n, err
}

func TestInterpose(t *testing.T) {
	e := newEnv(t)
	e.serveAgent(agenttest.New())
	cfg := e.config()
	var cc *countingConn
	cfg.Interpose = func(c net.Conn) net.Conn {
		cc = &countingConn{Conn: c}
		return cc
	}
	c, err := Connect(ctxT(t), cfg)
	must(t, err)
	must(t, c.Close())
	if cc == nil || cc.n.Load() == 0 {
		t.Fatal("the Version reply did not pass through the interposed conn")
	}
	if n := e.hv.Domain(0).Open(); n != 0 {
		t.Errorf("dom0 has %d grants/ports open after Close", n)
	}
}
