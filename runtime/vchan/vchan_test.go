package vchan_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/runxen/runxen/runtime/vchan"
)

var sizes = []struct {
	name       string
	recv, send int
}{
	{"inpage", 0, 0},               // orders 10 and 11 in the shared page
	{"inpage-swapped", 2048, 1024}, // orders 11 and 10
	{"mixed", 2048, 64 << 10},      // 11 in page, 16 granted pages
	{"pages", 4096, 16 << 10},      // 12 and 14
	{"max", vchan.MaxRingSize, vchan.MaxRingSize},
}

func TestReadWrite(t *testing.T) {
	for _, sz := range sizes {
		t.Run(sz.name, func(t *testing.T) {
			e := newEnv(t)
			srv, cli := e.pair(sz.recv, sz.send)
			if sz.recv > 0 && srv.ReadBufferSize() < sz.recv || cli.WriteBufferSize() != srv.ReadBufferSize() ||
				cli.ReadBufferSize() != srv.WriteBufferSize() {
				t.Fatalf("ring sizes: server %d/%d client %d/%d", srv.ReadBufferSize(), srv.WriteBufferSize(),
					cli.ReadBufferSize(), cli.WriteBufferSize())
			}
			roundTrip(t, cli, srv, []byte("hello from dom0"))
			roundTrip(t, srv, cli, []byte("hello from the guest"))
			srv.Close()
			cli.Close()
			e.checkClean()
		})
	}
}

func roundTrip(t *testing.T, w, r net.Conn, msg []byte) {
	t.Helper()
	if n, err := w.Write(msg); n != len(msg) || err != nil {
		t.Fatalf("Write = %d, %v", n, err)
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(r, got); err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("read %q, %v; want %q", got, err, msg)
	}
}

// TestLargeTransfer streams data both ways at once through each ring
// geometry and compares checksums.
func TestLargeTransfer(t *testing.T) {
	total := 32 << 20
	if testing.Short() || raceEnabled {
		total = 4 << 20
	}
	for _, sz := range sizes {
		t.Run(sz.name, func(t *testing.T) {
			e := newEnv(t)
			srv, cli := e.pair(sz.recv, sz.send)
			var wg sync.WaitGroup
			stream := func(w, r *vchan.Conn, seed uint64) {
				defer wg.Done()
				src := rand.New(rand.NewPCG(seed, 0))
				sent := sha256.New()
				go func() {
					buf := make([]byte, 100<<10)
					for left := total; left > 0; {
						n := min(left, 1+src.IntN(len(buf)))
						for i := range buf[:n] {
							buf[i] = byte(src.Uint32())
						}
						sent.Write(buf[:n])
						if _, err := w.Write(buf[:n]); err != nil {
							t.Errorf("Write: %v", err)
							r.Close() // unblock the reader
							return
						}
						left -= n
					}
				}()
				// Both directions run at once, so neither side may
				// CloseWrite (a closed peer takes no more data): read
				// the known length.
				got := sha256.New()
				n, err := io.CopyBuffer(got, io.LimitReader(r, int64(total)), make([]byte, 37<<10))
				if err != nil || n != int64(total) {
					t.Errorf("copied %d, %v; want %d", n, err, total)
				}
				if !bytes.Equal(got.Sum(nil), sent.Sum(nil)) {
					t.Error("checksum mismatch")
				}
			}
			wg.Add(2)
			go stream(cli, srv, 1)
			stream(srv, cli, 2)
			wg.Wait()
		})
	}
}

// TestBackPressure fills the ring with nobody reading: Write blocks, and
// resumes as the reader drains.
func TestBackPressure(t *testing.T) {
	e := newEnv(t)
	srv, cli := e.pair(0, 0)
	size := cli.WriteBufferSize() // 1 KiB: the server's receive ring
	data := bytes.Repeat([]byte("0123456789abcdef"), 4*size/16)

	cli.SetWriteDeadline(time.Now().Add(50 * time.Millisecond))
	n, err := cli.Write(data)
	if n != size || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Write into a ring of %d with no reader = %d, %v", size, n, err)
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("timeout error %v is not a net.Error with Timeout()", err)
	}
	cli.SetWriteDeadline(time.Time{})

	done := make(chan error)
	go func() {
		_, err := cli.Write(data[n:])
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("Write into a full ring returned %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	got := make([]byte, len(data))
	if _, err := io.ReadFull(srv, got); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatal("data mismatch after back-pressure")
	}
}

func TestHalfClose(t *testing.T) {
	e := newEnv(t)
	srv, cli := e.pair(0, 0)
	// The guest answers and closes its side; dom0 reads to EOF.
	if _, err := srv.Write([]byte("last words")); err != nil {
		t.Fatal(err)
	}
	must(t, srv.CloseWrite())
	must(t, srv.CloseWrite()) // idempotent
	if _, err := srv.Write([]byte("x")); !errors.Is(err, vchan.ErrWriteClosed) {
		t.Fatalf("Write after CloseWrite: %v", err)
	}
	got, err := io.ReadAll(cli)
	if err != nil || string(got) != "last words" {
		t.Fatalf("ReadAll = %q, %v", got, err)
	}
	if n, err := cli.Read(make([]byte, 8)); n != 0 || err != io.EOF {
		t.Fatalf("Read after EOF = %d, %v", n, err)
	}
	// libxenvchan semantics: a closed peer takes no more data.
	if _, err := cli.Write([]byte("too late")); !errors.Is(err, vchan.ErrPeerClosed) || !errors.Is(err, syscall.EPIPE) {
		t.Fatalf("Write to a closed peer: %v", err)
	}
	// What dom0 wrote before noticing is still readable by the guest.
	srv.Close()
	cli.Close()
	e.checkClean()
}

func TestCloseWriteWakesBlockedReader(t *testing.T) {
	e := newEnv(t)
	srv, cli := e.pair(0, 0)
	res := make(chan error)
	go func() {
		_, err := cli.Read(make([]byte, 10))
		res <- err
	}()
	time.Sleep(20 * time.Millisecond)
	must(t, srv.CloseWrite())
	select {
	case err := <-res:
		if err != io.EOF {
			t.Fatalf("blocked Read after peer CloseWrite: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("blocked Read not woken by the peer's CloseWrite")
	}
}

func TestDeadlines(t *testing.T) {
	e := newEnv(t)
	srv, cli := e.pair(0, 0)

	// A blocked Read times out.
	cli.SetReadDeadline(time.Now().Add(30 * time.Millisecond))
	start := time.Now()
	_, err := cli.Read(make([]byte, 1))
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Read past deadline: %v", err)
	}
	if d := time.Since(start); d < 25*time.Millisecond || d > 5*time.Second {
		t.Fatalf("Read timed out after %v", d)
	}
	// A past deadline fails even with data ready; clearing it recovers.
	srv.Write([]byte("ready"))
	time.Sleep(5 * time.Millisecond)
	if n, err := cli.Read(make([]byte, 8)); n != 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Read with past deadline and data = %d, %v", n, err)
	}
	cli.SetReadDeadline(time.Time{})
	buf := make([]byte, 8)
	if n, err := cli.Read(buf); err != nil || string(buf[:n]) != "ready" {
		t.Fatalf("Read after clearing deadline = %q, %v", buf[:n], err)
	}

	// Extending the deadline of a blocked Read takes effect.
	cli.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	res := make(chan error)
	go func() {
		_, err := cli.Read(buf)
		res <- err
	}()
	cli.SetReadDeadline(time.Now().Add(time.Hour))
	time.Sleep(60 * time.Millisecond)
	srv.Write([]byte("x"))
	if err := <-res; err != nil {
		t.Fatalf("Read with extended deadline: %v", err)
	}
	// Shortening it wakes the blocked Read.
	go func() {
		_, err := cli.Read(buf)
		res <- err
	}()
	time.Sleep(10 * time.Millisecond)
	cli.SetReadDeadline(time.Now())
	if err := <-res; !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Read after shortened deadline: %v", err)
	}
}

func TestCloseUnblocks(t *testing.T) {
	e := newEnv(t)
	srv, cli := e.pair(0, 0)
	cli.Write(make([]byte, cli.WriteBufferSize())) // fill: the next Write blocks
	res := make(chan error, 2)
	go func() { _, err := cli.Read(make([]byte, 1)); res <- err }()
	go func() { _, err := cli.Write(make([]byte, 10)); res <- err }()
	time.Sleep(20 * time.Millisecond)
	must(t, cli.Close())
	for i := 0; i < 2; i++ {
		select {
		case err := <-res:
			if !errors.Is(err, net.ErrClosed) {
				t.Fatalf("blocked call after Close: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Close did not unblock")
		}
	}
	if err := cli.Close(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := cli.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Write after Close: %v", err)
	}
	// The server drains what the client wrote, then sees EOF.
	n, err := io.Copy(io.Discard, srv)
	if err != nil || n != int64(srv.ReadBufferSize()) {
		t.Fatalf("server drained %d, %v", n, err)
	}
	srv.Close()
	e.checkClean()
}

// TestPeerCrash: the guest's process dies; the kernel's unmap notification
// clears its live byte and signals dom0.
func TestPeerCrash(t *testing.T) {
	e := newEnv(t)
	srv, cli := e.pair(0, 0)
	srv.Write([]byte("partial"))
	res := make(chan error)
	go func() {
		b, err := io.ReadAll(cli)
		if err == nil && string(b) != "partial" {
			err = fmt.Errorf("read %q", b)
		}
		res <- err
	}()
	time.Sleep(20 * time.Millisecond)
	e.guestDev.Crash()
	select {
	case err := <-res:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("client not woken by the server's crash")
	}
	if _, err := cli.Write([]byte("x")); !errors.Is(err, vchan.ErrPeerClosed) {
		t.Fatalf("Write after peer crash: %v", err)
	}
	cli.Close()
}

// TestClientCrash: the server sees the client's live byte cleared.
func TestClientCrash(t *testing.T) {
	e := newEnv(t)
	srv, _ := e.pair(0, 0)
	res := make(chan error)
	go func() { _, err := srv.Read(make([]byte, 1)); res <- err }()
	time.Sleep(20 * time.Millisecond)
	e.hostDev.Crash()
	select {
	case err := <-res:
		if err != io.EOF {
			t.Fatalf("server Read after client crash: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("server not woken by the client's crash")
	}
}

// TestPeerGone: the peer's domain died without any notification; the
// caller learned it from @releaseDomain.
func TestPeerGone(t *testing.T) {
	e := newEnv(t)
	srv, cli := e.pair(0, 0)
	srv.Write([]byte("abc"))
	cli.SetWriteDeadline(time.Time{})
	cli.Write(make([]byte, cli.WriteBufferSize()))
	res := make(chan error, 1)
	go func() { _, err := cli.Write([]byte("blocked")); res <- err }()
	time.Sleep(20 * time.Millisecond)
	cli.PeerGone()
	if err := <-res; !errors.Is(err, vchan.ErrPeerGone) {
		t.Fatalf("blocked Write after PeerGone: %v", err)
	}
	b := make([]byte, 10)
	if n, err := cli.Read(b); n != 3 || err != nil {
		t.Fatalf("Read of what was left = %d, %v", n, err)
	}
	if _, err := cli.Read(b); !errors.Is(err, vchan.ErrPeerGone) {
		t.Fatalf("Read after draining: %v", err)
	}
	must(t, cli.Close())
}

// TestNotifyOnlyWhenAsked: a writer whose reader is not waiting sends no
// events.
func TestNotifyOnlyWhenAsked(t *testing.T) {
	e := newEnv(t)
	srv, cli := e.pair(64<<10, 64<<10)
	before := srv.Notifications()
	for i := 0; i < 100; i++ {
		if _, err := srv.Write([]byte("tick")); err != nil {
			t.Fatal(err)
		}
	}
	// The client asked once, at connect, to hear of writes.
	if n := srv.Notifications() - before; n > 1 {
		t.Fatalf("%d events for 100 writes nobody waited for", n)
	}
	b := make([]byte, 400)
	if _, err := io.ReadFull(cli, b); err != nil {
		t.Fatal(err)
	}
	// Streaming with the reader keeping up costs far fewer events than
	// writes.
	before = srv.Notifications() + cli.Notifications()
	const writes = 2000
	go func() {
		for i := 0; i < writes; i++ {
			srv.Write(make([]byte, 1000))
		}
	}()
	if _, err := io.CopyN(io.Discard, cli, writes*1000); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d events for %d writes", srv.Notifications()+cli.Notifications()-before, writes)
}

func TestXenstoreEntries(t *testing.T) {
	e := newEnv(t)
	ctx := ctxT(t)
	srv, err := vchan.NewServer(ctx, e.serverConfig(0, 0))
	must(t, err)
	for _, k := range []string{"ring-ref", "event-channel"} {
		p := vchanPath + "/" + k
		v, ok := e.xs.Read(p)
		if !ok || len(v) == 0 || v[0] < '1' || v[0] > '9' {
			t.Errorf("%s = %q", p, v)
		}
		if perms := e.xs.Permissions(p); fmt.Sprint(perms) != "[n5 r0]" {
			t.Errorf("%s permissions %v, want [n5 r0]", p, perms)
		}
	}
	if got := srv.LocalAddr().String(); got != "5:"+vchanPath {
		t.Errorf("LocalAddr %q", got)
	}
	if got := srv.RemoteAddr(); got.Network() != "vchan" || got.String() != "0:"+vchanPath {
		t.Errorf("RemoteAddr %v", got)
	}
	must(t, srv.Close())
	e.checkClean()
}

// TestPathTooLong: libxenvchan cuts "<path>/event-channel" to 63 bytes, so
// longer paths are refused on both ends.
func TestPathTooLong(t *testing.T) {
	e := newEnv(t)
	ctx := ctxT(t)
	long := vchan.DefaultPath(guestDom, hostDom, strings.Repeat("x", vchan.MaxPathLen))
	cfg := e.serverConfig(0, 0)
	cfg.Path = long
	if _, err := vchan.NewServer(ctx, cfg); err == nil || !strings.Contains(err.Error(), "libxenvchan") {
		t.Fatalf("NewServer with a %d-byte path: %v", len(long), err)
	}
	ccfg := e.clientConfig()
	ccfg.Path = long
	if _, err := vchan.Dial(ctx, ccfg); err == nil {
		t.Fatal("Dial accepted a path libxenvchan would cut")
	}
	cfg.Path = long[:vchan.MaxPathLen]
	srv, err := vchan.NewServer(ctx, cfg)
	must(t, err)
	must(t, srv.Close())
	if got := len(cfg.Path + "/event-channel"); got != 63 {
		t.Errorf("longest path gives a %d-byte key, want 63", got)
	}
}

func TestDialWaitsForServer(t *testing.T) {
	e := newEnv(t)
	ctx := ctxT(t)
	res := make(chan error)
	var cli *vchan.Conn
	go func() {
		var err error
		cli, err = vchan.Dial(ctx, e.clientConfig())
		res <- err
	}()
	time.Sleep(30 * time.Millisecond)
	srv, err := vchan.NewServer(ctx, e.serverConfig(0, 0))
	must(t, err)
	defer srv.Close()
	if err := <-res; err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	must(t, srv.WaitConnected(ctx))
	roundTrip(t, cli, srv, []byte("late server"))
}

func TestDialTimeout(t *testing.T) {
	e := newEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	if _, err := vchan.Dial(ctx, e.clientConfig()); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Dial with no server: %v", err)
	}
}

func TestWaitConnected(t *testing.T) {
	e := newEnv(t)
	srv, err := vchan.NewServer(ctxT(t), e.serverConfig(0, 0))
	must(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := srv.WaitConnected(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitConnected with no client: %v", err)
	}
	// Writes before the client comes wait in the ring.
	if _, err := srv.Write([]byte("early")); err != nil {
		t.Fatal(err)
	}
	cli, err := vchan.Dial(ctxT(t), e.clientConfig())
	must(t, err)
	must(t, srv.WaitConnected(ctxT(t)))
	b := make([]byte, 5)
	if _, err := io.ReadFull(cli, b); err != nil || string(b) != "early" {
		t.Fatalf("read %q, %v", b, err)
	}
	srv.Close()
	cli.Close()
	e.checkClean()
}

// failNth makes the nth call of op fail.
func failNth(op string, nth int) func(string) error {
	var n atomic.Int32
	return func(o string) error {
		if o == op && int(n.Add(1)) == nth {
			return fmt.Errorf("injected %s failure", op)
		}
		return nil
	}
}

func TestSetupFailuresReleaseEverything(t *testing.T) {
	e := newEnv(t)
	ctx := ctxT(t)
	// 8 KiB rings: a page share and two ring shares.
	for _, f := range []struct {
		op  string
		nth int
	}{{"bind", 1}, {"share", 1}, {"share", 2}, {"share", 3}} {
		e.guestDev.SetFault(failNth(f.op, f.nth))
		if _, err := vchan.NewServer(ctx, e.serverConfig(8192, 8192)); err == nil {
			t.Fatalf("NewServer with %s #%d failing succeeded", f.op, f.nth)
		}
		if n := e.guestDev.Open(); n != 0 {
			t.Fatalf("%s #%d failing left %d objects open", f.op, f.nth, n)
		}
	}
	e.guestDev.SetFault(nil)
	cfg := e.serverConfig(8192, 8192)
	cfg.Path = "/bad path!"
	if _, err := vchan.NewServer(ctx, cfg); err == nil {
		t.Fatal("NewServer with a bad xenstore path succeeded")
	}
	srv, err := vchan.NewServer(ctx, e.serverConfig(8192, 8192))
	must(t, err)
	for _, f := range []struct {
		op  string
		nth int
	}{{"bind", 1}, {"map", 1}, {"map", 2}, {"map", 3}} {
		e.hostDev.SetFault(failNth(f.op, f.nth))
		cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		_, err := vchan.Dial(cctx, e.clientConfig())
		cancel()
		if err == nil {
			t.Fatalf("Dial with %s #%d failing succeeded", f.op, f.nth)
		}
		if n := e.hostDev.Open(); n != 0 {
			t.Fatalf("Dial with %s #%d failing left %d objects open", f.op, f.nth, n)
		}
	}
	e.hostDev.SetFault(nil)
	cli, err := vchan.Dial(ctx, e.clientConfig())
	must(t, err)
	roundTrip(t, cli, srv, []byte("after failures"))
	srv.Close()
	cli.Close()
	e.checkClean()
}

func TestConfigErrors(t *testing.T) {
	e := newEnv(t)
	ctx := ctxT(t)
	for _, cfg := range []vchan.Config{
		{Path: vchanPath},
		{Store: e.guestXS},
		{Store: e.guestXS, Path: "/x/"},
		{Store: e.guestXS, Path: "/x", Devices: e.guestDev, RecvSize: vchan.MaxRingSize + 1},
		{Store: e.guestXS, Path: "/x", Devices: e.guestDev, SendSize: -1},
	} {
		if _, err := vchan.NewServer(ctx, cfg); err == nil {
			t.Errorf("NewServer(%+v) succeeded", cfg)
		}
	}
	e.checkClean()
}

func TestNoGoroutineLeak(t *testing.T) {
	e := newEnv(t)
	before := runtime.NumGoroutine()
	for i := 0; i < 20; i++ {
		srv, cli := e.pair(0, 0)
		roundTrip(t, cli, srv, []byte("x"))
		srv.Close()
		cli.Close()
	}
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before+2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before+2 {
		t.Fatalf("%d goroutines before, %d after 20 connections", before, n)
	}
	e.checkClean()
}
