//go:build linux

package vchan_test

// Tests against real Xen, for the lab: they run only with
// RUNXEN_XEN_TESTS=1 where /dev/xen/{evtchn,gntalloc,gntdev} exist. Both
// ends live in this domain (RUNXEN_TEST_DOMID, default 0). The interop
// tests also need Xen's vchan-socket-proxy (RUNXEN_VCHAN_SOCKET_PROXY, or
// found in /usr/lib/xen-*/bin).

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/runxen/runxen/runtime/vchan"
	"github.com/runxen/runxen/runtime/xenstore"
)

func xenSetup(t *testing.T) (*xenstore.Client, uint32, string) {
	t.Helper()
	if os.Getenv("RUNXEN_XEN_TESTS") != "1" {
		t.Skip("set RUNXEN_XEN_TESTS=1 to run against real Xen")
	}
	for _, p := range []string{"/dev/xen/evtchn", "/dev/xen/gntalloc", "/dev/xen/gntdev"} {
		if _, err := os.Stat(p); err != nil {
			t.Skipf("no %s", p)
		}
	}
	self := uint32(0)
	if s := os.Getenv("RUNXEN_TEST_DOMID"); s != "" {
		v, err := strconv.ParseUint(s, 10, 32)
		must(t, err)
		self = uint32(v)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	xs, err := xenstore.Dial(ctx)
	must(t, err)
	t.Cleanup(func() { xs.Close() })
	// Short: libxenvchan cuts longer paths (vchan.MaxPathLen).
	path := vchan.DefaultPath(self, self, fmt.Sprintf("rt%d-%d", os.Getpid(), time.Now().UnixNano()%1e6))
	return xs, self, path
}

func xenConfig(xs *xenstore.Client, self uint32, path string, size int) vchan.Config {
	d := self
	return vchan.Config{Store: xs, Peer: self, Path: path, LocalDomain: &d, RecvSize: size, SendSize: size}
}

// TestXenLoopback runs this package on both ends through the real devices.
func TestXenLoopback(t *testing.T) {
	xs, self, path := xenSetup(t)
	for _, size := range []int{0, 64 << 10, vchan.MaxRingSize} {
		t.Run(strconv.Itoa(size), func(t *testing.T) {
			ctx := ctxT(t)
			cfg := xenConfig(xs, self, path, size)
			srv, err := vchan.NewServer(ctx, cfg)
			must(t, err)
			defer srv.Close()
			cli, err := vchan.Dial(ctx, cfg)
			must(t, err)
			defer cli.Close()
			must(t, srv.WaitConnected(ctx))
			data := bytes.Repeat([]byte("0123456789abcdef"), 1<<18) // 4 MiB
			go func() {
				if _, err := cli.Write(data); err != nil {
					t.Error(err)
				}
			}()
			got := make([]byte, len(data))
			start := time.Now()
			if _, err := io.ReadFull(srv, got); err != nil || !bytes.Equal(got, data) {
				t.Fatalf("read %v", err)
			}
			t.Logf("ring %d: 4 MiB in %v, %d+%d events", size, time.Since(start), srv.Notifications(), cli.Notifications())
			cli.Close()
			if _, err := srv.Read(make([]byte, 1)); err != io.EOF {
				t.Fatalf("server Read after client Close: %v", err)
			}
		})
	}
}

func findProxy(t *testing.T) string {
	if p := os.Getenv("RUNXEN_VCHAN_SOCKET_PROXY"); p != "" {
		return p
	}
	m, _ := filepath.Glob("/usr/lib/xen-*/bin/vchan-socket-proxy")
	if len(m) == 0 {
		t.Skip("no vchan-socket-proxy")
	}
	return m[len(m)-1]
}

func startProxy(t *testing.T, args ...string) {
	cmd := exec.Command(findProxy(t), args...)
	cmd.Stderr = os.Stderr
	must(t, cmd.Start())
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
}

// TestXenInteropCServer: libxenvchan serves (vchan-socket-proxy -m server,
// echoing through a unix socket), this package dials.
func TestXenInteropCServer(t *testing.T) {
	xs, self, path := xenSetup(t)
	sock := filepath.Join(t.TempDir(), "echo.sock")
	l, err := net.Listen("unix", sock)
	must(t, err)
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
	startProxy(t, "-m", "server", strconv.Itoa(int(self)), path, sock)
	// Killed, the proxy leaves its entries behind: libxenvchan_close never
	// runs.
	t.Cleanup(func() { xs.Rm(context.Background(), path) })
	ctx := ctxT(t)
	cli, err := vchan.Dial(ctx, xenConfig(xs, self, path, 0))
	must(t, err)
	defer cli.Close()
	msg := bytes.Repeat([]byte("interop "), 5000) // more than the 1+2 KiB rings
	go func() {
		if _, err := cli.Write(msg); err != nil {
			t.Error(err)
		}
	}()
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(cli, got); err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("echo through libxenvchan: %v", err)
	}
}

// TestXenInteropCClient: this package serves, libxenvchan dials
// (vchan-socket-proxy -m client, exposing the vchan as a unix socket).
func TestXenInteropCClient(t *testing.T) {
	xs, self, path := xenSetup(t)
	ctx := ctxT(t)
	srv, err := vchan.NewServer(ctx, xenConfig(xs, self, path, 64<<10))
	must(t, err)
	defer srv.Close()
	go func() { io.Copy(srv, srv) }() // echo
	sock := filepath.Join(t.TempDir(), "client.sock")
	startProxy(t, "-m", "client", strconv.Itoa(int(self)), path, sock)
	var c net.Conn
	for start := time.Now(); ; time.Sleep(20 * time.Millisecond) {
		if c, err = net.Dial("unix", sock); err == nil {
			break
		}
		if time.Since(start) > 10*time.Second {
			t.Fatal(err)
		}
	}
	defer c.Close()
	msg := bytes.Repeat([]byte("interop "), 50000)
	go func() {
		if _, err := c.Write(msg); err != nil {
			t.Error(err)
		}
	}()
	got := make([]byte, len(msg))
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("echo through libxenvchan: %v", err)
	}
}
