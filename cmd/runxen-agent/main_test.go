package main

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/containerd/ttrpc"
	"google.golang.org/protobuf/types/known/emptypb"

	agent "github.com/runxen/runxen/guest-agent/api/v1"
)

// The test binary plays the agent when RUNXEN_AGENT_TEST_MAIN is set.
func TestMain(m *testing.M) {
	if os.Getenv("RUNXEN_AGENT_TEST_MAIN") != "" {
		os.Args = append([]string{"runxen-agent"}, os.Args[1:]...)
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// startAgent runs the agent off Xen, on a unix socket, as a child process.
func startAgent(t *testing.T) (*exec.Cmd, agent.AgentService) {
	t.Helper()
	dir := t.TempDir()
	sock := filepath.Join(dir, "agent.sock")
	cmd := exec.Command(os.Args[0], "--listen", "unix://"+sock, "--bundle-dir", filepath.Join(dir, "bundles"),
		"--runc", filepath.Join(dir, "no-runc"), "--log-level", "debug")
	cmd.Env = append(os.Environ(), "RUNXEN_AGENT_TEST_MAIN=1")
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	var conn net.Conn
	var err error
	for range 500 {
		if conn, err = net.Dial("unix", sock); err == nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("agent never listened: %v", err)
	}
	cl := ttrpc.NewClient(conn)
	t.Cleanup(func() { cl.Close() })
	return cmd, agent.NewAgentClient(cl)
}

func waitExit(t *testing.T, cmd *exec.Cmd) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("the agent did not exit")
		return nil
	}
}

func TestAgentServesAndStopsOnSignal(t *testing.T) {
	cmd, c := startAgent(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	v, err := c.Version(ctx, &emptypb.Empty{})
	if err != nil || v.ApiVersion != agent.APIVersion {
		t.Fatalf("Version = %v, %v", v, err)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := waitExit(t, cmd); err != nil {
		t.Fatalf("exit after SIGTERM: %v", err)
	}
}

func TestAgentStopsOnShutdown(t *testing.T) {
	cmd, c := startAgent(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := c.Shutdown(ctx, &emptypb.Empty{}); err != nil {
		t.Fatal(err)
	}
	if err := waitExit(t, cmd); err != nil {
		t.Fatalf("exit after Shutdown: %v", err)
	}
}

func TestBadListenAddress(t *testing.T) {
	cmd := exec.Command(os.Args[0], "--listen", "tcp://0.0.0.0:1")
	cmd.Env = append(os.Environ(), "RUNXEN_AGENT_TEST_MAIN=1")
	if out, err := cmd.CombinedOutput(); err == nil {
		t.Fatalf("a bad --listen was accepted: %s", out)
	}
}
