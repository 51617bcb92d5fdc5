package xenstore_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/runxen/runxen/runtime/xenstore"
	"github.com/runxen/runxen/runtime/xenstore/xenstoretest"
)

func newServer(t *testing.T) *xenstoretest.Server {
	t.Helper()
	s := xenstoretest.New()
	t.Cleanup(func() { s.Close() })
	return s
}

func newClient(t *testing.T, conn net.Conn) *xenstore.Client {
	t.Helper()
	c := xenstore.NewClient(conn)
	t.Cleanup(func() { c.Close() })
	return c
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestBasicOperations(t *testing.T) {
	s := newServer(t)
	c := newClient(t, s.Conn())
	ctx := testCtx(t)

	// Each step runs against the state the previous ones left.
	steps := []struct {
		name string
		run  func() (any, error)
		want any
		err  error
	}{
		{"read missing", func() (any, error) { return c.Read(ctx, "/vm/a") }, nil, xenstore.ErrNotExist},
		{"write creates parents", func() (any, error) { return nil, c.Write(ctx, "/vm/a/b", []byte("v1")) }, nil, nil},
		{"read back", func() (any, error) { return c.Read(ctx, "/vm/a/b") }, []byte("v1"), nil},
		{"parent empty", func() (any, error) { return c.Read(ctx, "/vm/a") }, []byte{}, nil},
		{"binary value", func() (any, error) {
			if err := c.Write(ctx, "/vm/bin", []byte{0, 1, 0, 0xff}); err != nil {
				return nil, err
			}
			return c.Read(ctx, "/vm/bin")
		}, []byte{0, 1, 0, 0xff}, nil},
		{"directory", func() (any, error) { return c.Directory(ctx, "/vm") }, []string{"a", "bin"}, nil},
		{"directory empty", func() (any, error) { return c.Directory(ctx, "/vm/a/b") }, []string{}, nil},
		{"directory missing", func() (any, error) { return c.Directory(ctx, "/nope") }, nil, fs.ErrNotExist},
		{"mkdir", func() (any, error) { return nil, c.Mkdir(ctx, "/vm/dir/x") }, nil, nil},
		{"mkdir keeps value", func() (any, error) {
			if err := c.Mkdir(ctx, "/vm/a/b"); err != nil {
				return nil, err
			}
			return c.Read(ctx, "/vm/a/b")
		}, []byte("v1"), nil},
		{"rm recursive", func() (any, error) {
			if err := c.Rm(ctx, "/vm/a"); err != nil {
				return nil, err
			}
			return c.Read(ctx, "/vm/a/b")
		}, nil, xenstore.ErrNotExist},
		{"rm missing with parent", func() (any, error) { return nil, c.Rm(ctx, "/vm/gone") }, nil, nil},
		{"rm missing parent", func() (any, error) { return nil, c.Rm(ctx, "/nope/gone") }, nil, xenstore.ErrNotExist},
		{"rm root", func() (any, error) { return nil, c.Rm(ctx, "/") }, nil, syscall.EINVAL},
		{"get perms", func() (any, error) { return c.GetPermissions(ctx, "/vm") }, []xenstore.Permission{{0, xenstore.AccessNone}}, nil},
		{"set perms", func() (any, error) {
			err := c.SetPermissions(ctx, "/vm/dir", []xenstore.Permission{{0, xenstore.AccessRead}, {7, xenstore.AccessBoth}})
			if err != nil {
				return nil, err
			}
			return c.GetPermissions(ctx, "/vm/dir")
		}, []xenstore.Permission{{0, xenstore.AccessRead}, {7, xenstore.AccessBoth}}, nil},
		{"new node inherits perms", func() (any, error) {
			if err := c.Write(ctx, "/vm/dir/new", nil); err != nil {
				return nil, err
			}
			return c.GetPermissions(ctx, "/vm/dir/new")
		}, []xenstore.Permission{{0, xenstore.AccessRead}, {7, xenstore.AccessBoth}}, nil},
		{"get domain path", func() (any, error) { return c.GetDomainPath(ctx, 42) }, "/local/domain/42", nil},
		{"is introduced dom0", func() (any, error) { return c.IsIntroduced(ctx, 0) }, true, nil},
		{"is introduced 9", func() (any, error) { return c.IsIntroduced(ctx, 9) }, false, nil},
		{"introduce", func() (any, error) {
			if err := c.Introduce(ctx, 9, 0xfeffc, 3); err != nil {
				return nil, err
			}
			return c.IsIntroduced(ctx, 9)
		}, true, nil},
		{"release", func() (any, error) {
			if err := c.Release(ctx, 9); err != nil {
				return nil, err
			}
			return c.IsIntroduced(ctx, 9)
		}, false, nil},
		{"release unknown", func() (any, error) { return nil, c.Release(ctx, 9) }, nil, xenstore.ErrNotExist},
	}
	for _, st := range steps {
		got, err := st.run()
		if st.err != nil {
			if !errors.Is(err, st.err) {
				t.Fatalf("%s: err = %v, want %v", st.name, err, st.err)
			}
			var xe *xenstore.Error
			if !errors.As(err, &xe) {
				t.Fatalf("%s: err %T is not *xenstore.Error", st.name, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if st.want != nil && !reflect.DeepEqual(got, st.want) {
			t.Fatalf("%s: got %#v, want %#v\n%s", st.name, got, st.want, s.Dump())
		}
	}
}

func TestErrorCarriesOpAndPath(t *testing.T) {
	s := newServer(t)
	c := newClient(t, s.Conn())
	_, err := c.Read(testCtx(t), "/missing/node")
	var xe *xenstore.Error
	if !errors.As(err, &xe) || xe.Op != "read" || xe.Path != "/missing/node" || xe.Errno != "ENOENT" {
		t.Fatalf("err = %#v", err)
	}
	if !errors.Is(err, syscall.ENOENT) || !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("errors.Is failed for %v", err)
	}
	if got := err.Error(); got != "xenstore read /missing/node: ENOENT" {
		t.Fatalf("message %q", got)
	}
}

func TestRequestValidation(t *testing.T) {
	s := newServer(t)
	c := newClient(t, s.Conn())
	ctx := testCtx(t)
	tests := []struct {
		name  string
		run   func() error
		errno string
	}{
		{"empty path", func() error { _, err := c.Read(ctx, ""); return err }, "EINVAL"},
		{"double slash", func() error { return c.Write(ctx, "/a//b", nil) }, "EINVAL"},
		{"trailing slash", func() error { return c.Mkdir(ctx, "/a/") }, "EINVAL"},
		{"bad char", func() error { return c.Rm(ctx, "/a b") }, "EINVAL"},
		{"NUL", func() error { _, err := c.Directory(ctx, "/a\x00b"); return err }, "EINVAL"},
		{"special for read", func() error { _, err := c.Read(ctx, xenstore.ReleaseDomain); return err }, "EINVAL"},
		{"abs too long", func() error { _, err := c.Read(ctx, "/"+strings.Repeat("a", 3072)); return err }, "EINVAL"},
		{"rel too long", func() error { _, err := c.Read(ctx, strings.Repeat("a", 2049)); return err }, "EINVAL"},
		{"payload too big", func() error { return c.Write(ctx, "/big", make([]byte, 4096)) }, "E2BIG"},
		{"no perms", func() error { return c.SetPermissions(ctx, "/local", nil) }, "EINVAL"},
		{"bad access", func() error {
			return c.SetPermissions(ctx, "/local", []xenstore.Permission{{0, 'x'}})
		}, "EINVAL"},
		{"token NUL", func() error { _, err := c.Watch(ctx, "/a", "t\x00"); return err }, "EINVAL"},
	}
	for _, tt := range tests {
		err := tt.run()
		var xe *xenstore.Error
		if !errors.As(err, &xe) || xe.Errno != tt.errno || xe.Detail == "" {
			t.Errorf("%s: err = %v, want local %s with detail", tt.name, err, tt.errno)
		}
	}
	// The largest legal write goes through, and the refusals above did not
	// upset the connection.
	val := make([]byte, 4096-len("/big")-1)
	if err := c.Write(ctx, "/big", val); err != nil {
		t.Fatal(err)
	}
	if got, err := c.Read(ctx, "/big"); err != nil || len(got) != len(val) {
		t.Fatalf("read back %d bytes, %v", len(got), err)
	}
}

func TestLargeDirectoryUsesParts(t *testing.T) {
	s := newServer(t)
	c := newClient(t, s.Conn())
	ctx := testCtx(t)
	var want []string
	for i := range 600 {
		name := fmt.Sprintf("child-with-a-long-name-%04d", i)
		want = append(want, name)
		if err := s.Mkdir("/big/" + name); err != nil {
			t.Fatal(err)
		}
	}
	got, err := c.Directory(ctx, "/big")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("got %d names, want %d", len(got), len(want))
	}
	// Inside a transaction too.
	err = c.Transaction(ctx, func(tx *xenstore.Tx) error {
		got, err := tx.Directory(ctx, "/big")
		if err == nil && len(got) != len(want) {
			err = fmt.Errorf("got %d names", len(got))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestUnprivilegedDomain(t *testing.T) {
	s := newServer(t)
	dom0 := newClient(t, s.Conn())
	guest := newClient(t, s.ConnAs(5))
	ctx := testCtx(t)

	// The toolstack prepares the guest's home, as xl does.
	home, err := dom0.GetDomainPath(ctx, 5)
	if err != nil {
		t.Fatal(err)
	}
	if err := dom0.Mkdir(ctx, home+"/device"); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{home, home + "/device"} {
		if err := dom0.SetPermissions(ctx, p, []xenstore.Permission{{5, xenstore.AccessNone}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := dom0.Write(ctx, "/secret", []byte("x")); err != nil {
		t.Fatal(err)
	}

	if _, err := guest.Read(ctx, "/secret"); !errors.Is(err, xenstore.ErrPermission) {
		t.Fatalf("read /secret: %v", err)
	}
	if _, err := guest.Read(ctx, "/secret/missing"); !errors.Is(err, xenstore.ErrPermission) {
		t.Fatalf("missing node under unreadable parent: %v", err)
	}
	if err := guest.Write(ctx, "/local/x", nil); !errors.Is(err, xenstore.ErrPermission) {
		t.Fatalf("write /local/x: %v", err)
	}
	// Relative paths resolve in the guest's home.
	if err := guest.Write(ctx, "device/vif/0/state", []byte("1")); err != nil {
		t.Fatal(err)
	}
	if v, err := dom0.Read(ctx, home+"/device/vif/0/state"); err != nil || string(v) != "1" {
		t.Fatalf("dom0 sees %q, %v", v, err)
	}
	perms, err := guest.GetPermissions(ctx, "device/vif/0/state")
	if err != nil || perms[0].Domain != 5 {
		t.Fatalf("guest-created node perms %v, %v", perms, err)
	}
	// An owner may share but not give away.
	err = guest.SetPermissions(ctx, "device/vif", []xenstore.Permission{{5, xenstore.AccessNone}, {0, xenstore.AccessRead}})
	if err != nil {
		t.Fatal(err)
	}
	err = guest.SetPermissions(ctx, "device/vif", []xenstore.Permission{{6, xenstore.AccessNone}})
	if !errors.Is(err, xenstore.ErrPermission) || !errors.Is(err, syscall.EPERM) {
		t.Fatalf("give away: %v", err)
	}
	if err := guest.Release(ctx, 3); !errors.Is(err, xenstore.ErrPermission) {
		t.Fatalf("guest release: %v", err)
	}
}

func TestTransactionCommitAndAbort(t *testing.T) {
	s := newServer(t)
	c := newClient(t, s.Conn())
	ctx := testCtx(t)

	err := c.Transaction(ctx, func(tx *xenstore.Tx) error {
		if err := tx.Write(ctx, "/tx/a", []byte("1")); err != nil {
			return err
		}
		if err := tx.Mkdir(ctx, "/tx/b"); err != nil {
			return err
		}
		// Own writes are visible inside, not outside.
		if v, err := tx.Read(ctx, "/tx/a"); err != nil || string(v) != "1" {
			return fmt.Errorf("inside: %q, %v", v, err)
		}
		if _, err := c.Read(ctx, "/tx/a"); !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("outside before commit: %v", err)
		}
		names, err := tx.Directory(ctx, "/tx")
		if err != nil || !slices.Equal(names, []string{"a", "b"}) {
			return fmt.Errorf("directory %v, %v", names, err)
		}
		if err := tx.SetPermissions(ctx, "/tx/b", []xenstore.Permission{{0, xenstore.AccessRead}}); err != nil {
			return err
		}
		if p, err := tx.GetPermissions(ctx, "/tx/b"); err != nil || p[0].Access != xenstore.AccessRead {
			return fmt.Errorf("perms %v, %v", p, err)
		}
		return tx.Rm(ctx, "/tx/a")
	})
	if err != nil {
		t.Fatal(err)
	}
	if !s.Exists("/tx/b") || s.Exists("/tx/a") {
		t.Fatalf("after commit:\n%s", s.Dump())
	}

	boom := errors.New("boom")
	err = c.Transaction(ctx, func(tx *xenstore.Tx) error {
		if err := tx.Write(ctx, "/tx/aborted", nil); err != nil {
			return err
		}
		return boom
	})
	if err != boom {
		t.Fatalf("err = %v, want fn's error unchanged", err)
	}
	if s.Exists("/tx/aborted") {
		t.Fatal("aborted write visible")
	}
	if n := s.NumTransactions(); n != 0 {
		t.Fatalf("%d transactions left open", n)
	}
}

func TestTransactionRetriesOnConflict(t *testing.T) {
	s := newServer(t)
	c := newClient(t, s.Conn())
	other := newClient(t, s.Conn())
	ctx := testCtx(t)
	if err := c.Write(ctx, "/counter", []byte("0")); err != nil {
		t.Fatal(err)
	}

	attempts := 0
	err := c.Transaction(ctx, func(tx *xenstore.Tx) error {
		attempts++
		v, err := tx.Read(ctx, "/counter")
		if err != nil {
			return err
		}
		if attempts == 1 {
			// Someone else changes what we read: commit must fail.
			if err := other.Write(ctx, "/counter", []byte("10")); err != nil {
				return err
			}
		}
		return tx.Write(ctx, "/counter", append(v, '+'))
	})
	if err != nil {
		t.Fatal(err)
	}
	if attempts != 2 {
		t.Fatalf("attempts = %d, want 2", attempts)
	}
	if v, _ := s.Read("/counter"); string(v) != "10+" {
		t.Fatalf("counter = %q", v)
	}

	// Unrelated writes do not conflict.
	attempts = 0
	err = c.Transaction(ctx, func(tx *xenstore.Tx) error {
		attempts++
		if _, err := tx.Read(ctx, "/counter"); err != nil {
			return err
		}
		if err := other.Write(ctx, "/elsewhere", nil); err != nil {
			return err
		}
		return tx.Write(ctx, "/counter", []byte("x"))
	})
	if err != nil || attempts != 1 {
		t.Fatalf("attempts = %d, err = %v", attempts, err)
	}
}

func TestTransactionGivesUp(t *testing.T) {
	s := newServer(t)
	c := newClient(t, s.Conn())
	ctx := testCtx(t)
	s.FailCommits(1000)
	attempts := 0
	err := c.Transaction(ctx, func(tx *xenstore.Tx) error {
		attempts++
		return tx.Write(ctx, "/x", nil)
	})
	if !errors.Is(err, xenstore.ErrAgain) || !strings.Contains(err.Error(), "failed 16 attempts") {
		t.Fatalf("err = %v", err)
	}
	if attempts != xenstore.MaxTransactionAttempts {
		t.Fatalf("attempts = %d", attempts)
	}
	if s.NumTransactions() != 0 || s.Exists("/x") {
		t.Fatalf("left state behind:\n%s", s.Dump())
	}
}

func TestTransactionFnErrorAgainIsRetried(t *testing.T) {
	s := newServer(t)
	c := newClient(t, s.Conn())
	ctx := testCtx(t)
	attempts := 0
	err := c.Transaction(ctx, func(tx *xenstore.Tx) error {
		attempts++
		if attempts < 3 {
			return fmt.Errorf("wrapped: %w", xenstore.ErrAgain)
		}
		return nil
	})
	if err != nil || attempts != 3 {
		t.Fatalf("attempts = %d, err = %v", attempts, err)
	}
}

func TestTransactionPanicAborts(t *testing.T) {
	s := newServer(t)
	c := newClient(t, s.Conn())
	ctx := testCtx(t)
	func() {
		defer func() {
			if r := recover(); r != "kaboom" {
				t.Fatalf("recovered %v", r)
			}
		}()
		c.Transaction(ctx, func(tx *xenstore.Tx) error {
			tx.Write(ctx, "/panicked", nil)
			panic("kaboom")
		})
	}()
	if s.NumTransactions() != 0 || s.Exists("/panicked") {
		t.Fatalf("panic did not abort:\n%s", s.Dump())
	}
}

func TestTxUseAfterDone(t *testing.T) {
	s := newServer(t)
	c := newClient(t, s.Conn())
	ctx := testCtx(t)
	var leaked *xenstore.Tx
	if err := c.Transaction(ctx, func(tx *xenstore.Tx) error { leaked = tx; return nil }); err != nil {
		t.Fatal(err)
	}
	if leaked.ID() == 0 {
		t.Fatal("no tx id")
	}
	checks := map[string]error{}
	_, checks["read"] = leaked.Read(ctx, "/x")
	checks["write"] = leaked.Write(ctx, "/x", nil)
	checks["mkdir"] = leaked.Mkdir(ctx, "/x")
	checks["rm"] = leaked.Rm(ctx, "/x")
	_, checks["directory"] = leaked.Directory(ctx, "/")
	_, checks["get_perms"] = leaked.GetPermissions(ctx, "/")
	checks["set_perms"] = leaked.SetPermissions(ctx, "/", []xenstore.Permission{{0, xenstore.AccessNone}})
	for op, err := range checks {
		if !errors.Is(err, xenstore.ErrTxDone) {
			t.Errorf("%s: err = %v", op, err)
		}
	}
}

func TestTransactionQuota(t *testing.T) {
	s := xenstoretest.New(xenstoretest.WithMaxTransactions(2))
	t.Cleanup(func() { s.Close() })
	c := newClient(t, s.Conn())
	ctx := testCtx(t)
	err := c.Transaction(ctx, func(*xenstore.Tx) error {
		return c.Transaction(ctx, func(*xenstore.Tx) error {
			return c.Transaction(ctx, func(*xenstore.Tx) error { return nil })
		})
	})
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("err = %v", err)
	}
	if n := s.NumTransactions(); n != 0 {
		t.Fatalf("%d left open", n)
	}
}

// recv waits for one event.
func recv(t *testing.T, w *xenstore.Watch) xenstore.Event {
	t.Helper()
	select {
	case ev, ok := <-w.Events():
		if !ok {
			t.Fatalf("watch %s closed: %v", w.Path(), w.Err())
		}
		return ev
	case <-time.After(10 * time.Second):
		t.Fatalf("no event on watch %s", w.Path())
	}
	panic("unreachable")
}

// quiet asserts no event arrives for a little while. It first syncs with
// the server: an event produced before a reply is delivered before it.
func quiet(t *testing.T, c *xenstore.Client, w *xenstore.Watch) {
	t.Helper()
	if _, err := c.GetDomainPath(context.Background(), 0); err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-w.Events():
		t.Fatalf("unexpected event %+v", ev)
	case <-time.After(20 * time.Millisecond):
	}
}

func TestWatchEvents(t *testing.T) {
	s := newServer(t)
	c := newClient(t, s.Conn())
	writer := newClient(t, s.Conn())
	ctx := testCtx(t)

	w, err := c.Watch(ctx, "/vm/1", "tok")
	if err != nil {
		t.Fatal(err)
	}
	if w.Path() != "/vm/1" || w.Token() != "tok" {
		t.Fatalf("path %q token %q", w.Path(), w.Token())
	}
	if ev := recv(t, w); ev != (xenstore.Event{Path: "/vm/1", Token: "tok"}) {
		t.Fatalf("initial event %+v", ev)
	}

	steps := []struct {
		name string
		do   func() error
		want []string // event paths, in order; nil means none
	}{
		{"write node", func() error { return writer.Write(ctx, "/vm/1", []byte("x")) }, []string{"/vm/1"}},
		{"write beneath", func() error { return writer.Write(ctx, "/vm/1/a/b", nil) }, []string{"/vm/1/a/b"}},
		{"sibling", func() error { return writer.Write(ctx, "/vm/10", nil) }, nil},
		{"parent", func() error { return writer.Write(ctx, "/vm", nil) }, nil},
		{"mkdir existing", func() error { return writer.Mkdir(ctx, "/vm/1/a") }, nil},
		{"mkdir new", func() error { return writer.Mkdir(ctx, "/vm/1/c") }, []string{"/vm/1/c"}},
		{"set perms", func() error {
			return writer.SetPermissions(ctx, "/vm/1/c", []xenstore.Permission{{0, xenstore.AccessRead}})
		}, []string{"/vm/1/c"}},
		{"rm beneath", func() error { return writer.Rm(ctx, "/vm/1/a") }, []string{"/vm/1/a"}},
		{"rm ancestor", func() error { return writer.Rm(ctx, "/vm") }, []string{"/vm/1"}},
		{"transaction", func() error {
			return writer.Transaction(ctx, func(tx *xenstore.Tx) error {
				if err := tx.Write(ctx, "/vm/1/t", nil); err != nil {
					return err
				}
				// Nothing fires before commit.
				quiet(t, c, w)
				return nil
			})
		}, []string{"/vm/1/t"}},
		{"aborted transaction", func() error {
			writer.Transaction(ctx, func(tx *xenstore.Tx) error {
				tx.Write(ctx, "/vm/1/t2", nil)
				return errors.New("abort")
			})
			return nil
		}, nil},
	}
	for _, st := range steps {
		if err := st.do(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		for _, p := range st.want {
			if ev := recv(t, w); ev.Path != p || ev.Token != "tok" {
				t.Fatalf("%s: event %+v, want path %s", st.name, ev, p)
			}
		}
		quiet(t, c, w)
	}

	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, ok := <-w.Events(); ok {
		t.Fatal("channel open after Close")
	}
	if w.Err() != nil {
		t.Fatalf("Err after Close = %v", w.Err())
	}
	if n := s.NumWatches(); n != 0 {
		t.Fatalf("server still has %d watches", n)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	// The token is free again.
	w2, err := c.Watch(ctx, "/vm/1", "tok")
	if err != nil {
		t.Fatal(err)
	}
	recv(t, w2)
	w2.Close()
}

func TestWatchDemuxByToken(t *testing.T) {
	s := newServer(t)
	c := newClient(t, s.Conn())
	ctx := testCtx(t)
	wa, err := c.Watch(ctx, "/a", "")
	if err != nil {
		t.Fatal(err)
	}
	wb, err := c.Watch(ctx, "/b", "")
	if err != nil {
		t.Fatal(err)
	}
	wroot, err := c.Watch(ctx, "/", "root")
	if err != nil {
		t.Fatal(err)
	}
	if wa.Token() == wb.Token() || wa.Token() == "" {
		t.Fatalf("generated tokens %q %q", wa.Token(), wb.Token())
	}
	recv(t, wa)
	recv(t, wb)
	recv(t, wroot)
	for i := range 10 {
		if err := c.Write(ctx, fmt.Sprintf("/a/%d", i), nil); err != nil {
			t.Fatal(err)
		}
		if err := c.Write(ctx, fmt.Sprintf("/b/%d", i), nil); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 10 {
		if ev := recv(t, wa); ev.Path != fmt.Sprintf("/a/%d", i) || ev.Token != wa.Token() {
			t.Fatalf("wa got %+v", ev)
		}
		if ev := recv(t, wb); ev.Path != fmt.Sprintf("/b/%d", i) || ev.Token != wb.Token() {
			t.Fatalf("wb got %+v", ev)
		}
	}
	for i := range 20 {
		want := fmt.Sprintf("/%c/%d", "ab"[i%2], i/2)
		if ev := recv(t, wroot); ev.Path != want {
			t.Fatalf("root watch got %+v, want %s", ev, want)
		}
	}

	if _, err := c.Watch(ctx, "/c", "root"); !errors.Is(err, xenstore.ErrExist) {
		t.Fatalf("duplicate token: %v", err)
	}
}

func TestWatchRelativeAndSpecial(t *testing.T) {
	s := newServer(t)
	guest := newClient(t, s.ConnAs(3))
	dom0 := newClient(t, s.Conn())
	ctx := testCtx(t)
	if err := dom0.Mkdir(ctx, "/local/domain/3"); err != nil {
		t.Fatal(err)
	}
	if err := dom0.SetPermissions(ctx, "/local/domain/3", []xenstore.Permission{{3, xenstore.AccessNone}}); err != nil {
		t.Fatal(err)
	}
	w, err := guest.Watch(ctx, "control/shutdown", "")
	if err != nil {
		t.Fatal(err)
	}
	if ev := recv(t, w); ev.Path != "control/shutdown" {
		t.Fatalf("initial %+v", ev)
	}
	if err := dom0.Write(ctx, "/local/domain/3/control/shutdown", []byte("poweroff")); err != nil {
		t.Fatal(err)
	}
	if ev := recv(t, w); ev.Path != "control/shutdown" {
		t.Fatalf("relative event %+v", ev)
	}

	rel, err := dom0.Watch(ctx, xenstore.ReleaseDomain, "rel")
	if err != nil {
		t.Fatal(err)
	}
	intro, err := dom0.Watch(ctx, xenstore.IntroduceDomain, "intro")
	if err != nil {
		t.Fatal(err)
	}
	recv(t, rel)
	recv(t, intro)
	s.ReleaseDomain(3)
	if ev := recv(t, rel); ev.Path != xenstore.ReleaseDomain || ev.Token != "rel" {
		t.Fatalf("release event %+v", ev)
	}
	quiet(t, dom0, intro)
	s.IntroduceDomain(4)
	if ev := recv(t, intro); ev.Path != xenstore.IntroduceDomain {
		t.Fatalf("introduce event %+v", ev)
	}
	// Writes never match special watches.
	dom0.Write(ctx, "/x", nil)
	quiet(t, dom0, rel)
}

// TestWatchSlowConsumer floods a watch nobody reads. The connection must
// keep serving other calls, and the consumer must end up with a bounded,
// coalesced set of events that still covers the last change.
func TestWatchSlowConsumer(t *testing.T) {
	s := newServer(t)
	c := newClient(t, s.Conn())
	ctx := testCtx(t)

	// Few distinct paths: coalescing keeps one event per path.
	w, err := c.Watch(ctx, "/few", "few")
	if err != nil {
		t.Fatal(err)
	}
	recv(t, w) // the initial event would otherwise subsume everything
	for i := range 3000 {
		if err := s.Write(fmt.Sprintf("/few/%d", i%3), []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Read(ctx, "/few/0"); err != nil { // reader not blocked
		t.Fatal(err)
	}
	seen := map[string]int{}
	for len(seen) < 3 {
		seen[recv(t, w).Path]++
	}
	// At most one queued event per path, plus the one the delivery
	// goroutine may already hold.
	for len(w.Events()) > 0 || func() bool {
		select {
		case ev := <-w.Events():
			seen[ev.Path]++
			return true
		case <-time.After(20 * time.Millisecond):
			return false
		}
	}() {
	}
	for p, n := range seen {
		if n > 2 {
			t.Fatalf("%s delivered %d times", p, n)
		}
	}

	// Many distinct paths: the queue overflows into one "rescan" event for
	// the watched path.
	w2, err := c.Watch(ctx, "/many", "many")
	if err != nil {
		t.Fatal(err)
	}
	recv(t, w2)
	for i := range 2000 {
		if err := s.Write(fmt.Sprintf("/many/%d", i), nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Read(ctx, "/many/1999"); err != nil {
		t.Fatal(err)
	}
	var got []string
collect:
	for {
		select {
		case ev := <-w2.Events():
			got = append(got, ev.Path)
		case <-time.After(100 * time.Millisecond):
			break collect
		}
	}
	if len(got) > 256 || len(got) == 0 {
		t.Fatalf("%d events delivered", len(got))
	}
	if !slices.Contains(got, "/many") && !slices.Contains(got, "/many/1999") {
		t.Fatalf("last change not covered by %v", got)
	}
}

func TestWatchQuota(t *testing.T) {
	s := xenstoretest.New(xenstoretest.WithMaxWatches(1))
	t.Cleanup(func() { s.Close() })
	c := newClient(t, s.Conn())
	ctx := testCtx(t)
	w, err := c.Watch(ctx, "/a", "a")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Watch(ctx, "/b", "b"); !errors.Is(err, syscall.E2BIG) {
		t.Fatalf("err = %v", err)
	}
	// The refused watch's token is free again.
	w.Close()
	w, err = c.Watch(ctx, "/b", "b")
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
}

func TestConcurrentRequests(t *testing.T) {
	s := newServer(t)
	c := newClient(t, s.Conn())
	ctx := testCtx(t)
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 40 {
				p := fmt.Sprintf("/conc/%d/%d", g, i)
				val := []byte(fmt.Sprintf("%d-%d", g, i))
				if err := c.Write(ctx, p, val); err != nil {
					errs <- err
					return
				}
				got, err := c.Read(ctx, p)
				if err != nil || !bytes.Equal(got, val) {
					errs <- fmt.Errorf("%s: %q, %v", p, got, err)
					return
				}
			}
			err := c.Transaction(ctx, func(tx *xenstore.Tx) error {
				return tx.Write(ctx, fmt.Sprintf("/conc/%d/tx", g), nil)
			})
			if err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	names, err := c.Directory(ctx, "/conc")
	if err != nil || len(names) != 32 {
		t.Fatalf("%d names, %v", len(names), err)
	}
}

// fakePeer is a scripted xenstored on the other end of a pipe.
type fakePeer struct {
	t    *testing.T
	conn net.Conn
}

func newPeer(t *testing.T) (*xenstore.Client, *fakePeer) {
	a, b := net.Pipe()
	t.Cleanup(func() { b.Close() })
	return newClient(t, a), &fakePeer{t, b}
}

type rawMsg struct {
	typ, req, tx uint32
	payload      []byte
}

func (p *fakePeer) read() rawMsg {
	p.t.Helper()
	var h [16]byte
	if _, err := io.ReadFull(p.conn, h[:]); err != nil {
		p.t.Fatalf("peer read: %v", err)
	}
	m := rawMsg{
		typ: binary.LittleEndian.Uint32(h[0:]),
		req: binary.LittleEndian.Uint32(h[4:]),
		tx:  binary.LittleEndian.Uint32(h[8:]),
	}
	m.payload = make([]byte, binary.LittleEndian.Uint32(h[12:]))
	if _, err := io.ReadFull(p.conn, m.payload); err != nil {
		p.t.Fatalf("peer read: %v", err)
	}
	return m
}

func (p *fakePeer) write(typ, req, tx uint32, payload string) {
	b := binary.LittleEndian.AppendUint32(nil, typ)
	b = binary.LittleEndian.AppendUint32(b, req)
	b = binary.LittleEndian.AppendUint32(b, tx)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(payload)))
	if _, err := p.conn.Write(append(b, payload...)); err != nil {
		p.t.Errorf("peer write: %v", err)
	}
}

func TestWireRequests(t *testing.T) {
	c, peer := newPeer(t)
	ctx := testCtx(t)
	tests := []struct {
		name    string
		call    func() error
		typ     uint32
		payload string
		reply   string
	}{
		{"read", func() error { _, err := c.Read(ctx, "/a"); return err }, 2, "/a\x00", "v"},
		{"write", func() error { return c.Write(ctx, "/a", []byte("v\x00w")) }, 11, "/a\x00v\x00w", "OK\x00"},
		{"mkdir", func() error { return c.Mkdir(ctx, "/a") }, 12, "/a\x00", "OK\x00"},
		{"rm", func() error { return c.Rm(ctx, "/a") }, 13, "/a\x00", "OK\x00"},
		{"directory", func() error { _, err := c.Directory(ctx, "/a"); return err }, 1, "/a\x00", ""},
		{"get_perms", func() error { _, err := c.GetPermissions(ctx, "/a"); return err }, 3, "/a\x00", "b0\x00"},
		{"set_perms", func() error {
			return c.SetPermissions(ctx, "/a", []xenstore.Permission{{1, xenstore.AccessNone}, {0, xenstore.AccessRead}})
		}, 14, "/a\x00n1\x00r0\x00", "OK\x00"},
		{"get_domain_path", func() error { _, err := c.GetDomainPath(ctx, 7); return err }, 10, "7\x00", "/local/domain/7\x00"},
		{"introduce", func() error { return c.Introduce(ctx, 7, 1234, 5) }, 8, "7\x001234\x005\x00", "OK\x00"},
		{"release", func() error { return c.Release(ctx, 7) }, 9, "7\x00", "OK\x00"},
		{"is_domain_introduced", func() error { _, err := c.IsIntroduced(ctx, 7); return err }, 17, "7\x00", "T\x00"},
		{"set_target", func() error { return c.SetTarget(ctx, 7, 8) }, 19, "7\x008\x00", "OK\x00"},
	}
	for _, tt := range tests {
		errc := make(chan error, 1)
		go func() { errc <- tt.call() }()
		m := peer.read()
		if m.typ != tt.typ || string(m.payload) != tt.payload || m.tx != 0 || m.req == 0 {
			t.Errorf("%s: sent type %d tx %d req %d payload %q", tt.name, m.typ, m.tx, m.req, m.payload)
		}
		peer.write(m.typ, m.req, m.tx, tt.reply)
		if err := <-errc; err != nil {
			t.Errorf("%s: %v", tt.name, err)
		}
	}

	// A transaction: START with tx 0, body and END carrying the id.
	errc := make(chan error, 1)
	go func() {
		errc <- c.Transaction(ctx, func(tx *xenstore.Tx) error { return tx.Write(ctx, "/t", nil) })
	}()
	m := peer.read()
	if m.typ != 6 || m.tx != 0 || string(m.payload) != "\x00" {
		t.Fatalf("start: %+v", m)
	}
	peer.write(6, m.req, 0, "77\x00")
	m = peer.read()
	if m.typ != 11 || m.tx != 77 {
		t.Fatalf("body: %+v", m)
	}
	peer.write(11, m.req, 77, "OK\x00")
	m = peer.read()
	if m.typ != 7 || m.tx != 77 || string(m.payload) != "T\x00" {
		t.Fatalf("end: %+v", m)
	}
	peer.write(7, m.req, 77, "OK\x00")
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

func TestDeadlineAndLateReply(t *testing.T) {
	c, peer := newPeer(t)

	// The peer never answers the first request.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	errc := make(chan error, 1)
	go func() { _, err := c.Read(ctx, "/slow"); errc <- err }()
	first := peer.read()
	start := time.Now()
	if err := <-errc; !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("took %v", d)
	}

	// A second request; the late reply to the first arrives before its
	// own and must not be taken for it.
	ctx2 := testCtx(t)
	valc := make(chan []byte, 1)
	go func() {
		v, err := c.Read(ctx2, "/fast")
		if err != nil {
			t.Error(err)
		}
		valc <- v
	}()
	second := peer.read()
	if second.req == first.req {
		t.Fatalf("req_id %d reused while the first could still be answered", second.req)
	}
	peer.write(first.typ, first.req, 0, "late")
	peer.write(second.typ, second.req, 0, "right")
	if v := <-valc; string(v) != "right" {
		t.Fatalf("got %q", v)
	}
	// Replies in any order.
	r1 := make(chan string, 1)
	r2 := make(chan string, 1)
	go func() { v, _ := c.Read(ctx2, "/1"); r1 <- string(v) }()
	m1 := peer.read()
	go func() { v, _ := c.Read(ctx2, "/2"); r2 <- string(v) }()
	m2 := peer.read()
	peer.write(m2.typ, m2.req, 0, "two")
	peer.write(m1.typ, m1.req, 0, "one")
	if <-r1 != "one" || <-r2 != "two" {
		t.Fatal("out-of-order replies misrouted")
	}
}

func TestCancelBeforeSend(t *testing.T) {
	c, _ := newPeer(t) // the peer never reads: the writer blocks
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	var wg sync.WaitGroup
	for range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := c.Write(ctx, "/x", nil); !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("err = %v", err)
			}
		}()
	}
	wg.Wait()
	cancelled, cancel2 := context.WithCancel(context.Background())
	cancel2()
	if _, err := c.Read(cancelled, "/x"); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
}

func TestStalledServerAbandonedTransactionIsAborted(t *testing.T) {
	s := newServer(t)
	c := newClient(t, s.Conn())
	s.SetStalled(true)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := c.Transaction(ctx, func(*xenstore.Tx) error { t.Error("fn ran"); return nil })
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
	s.SetStalled(false)
	// The START is answered late; the client must end that transaction.
	waitFor(t, "transaction aborted", func() bool { return s.NumTransactions() == 0 })

	// Same for a watch registered after its caller left.
	s.SetStalled(true)
	ctx2, cancel2 := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel2()
	if _, err := c.Watch(ctx2, "/w", "tok"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
	s.SetStalled(false)
	waitFor(t, "watch removed", func() bool {
		if s.NumWatches() != 0 {
			return false
		}
		// and its token freed
		w, err := c.Watch(testCtx(t), "/w", "tok")
		if err != nil {
			return false
		}
		w.Close()
		return true
	})
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestConnectionLoss(t *testing.T) {
	c, peer := newPeer(t)
	ctx := testCtx(t)

	wc := make(chan *xenstore.Watch, 1)
	go func() {
		w, err := c.Watch(ctx, "/w", "tok")
		if err != nil {
			t.Error(err)
		}
		wc <- w
	}()
	m := peer.read()
	peer.write(m.typ, m.req, 0, "OK\x00")
	w := <-wc

	errc := make(chan error, 1)
	go func() { _, err := c.Read(ctx, "/pending"); errc <- err }()
	peer.read()
	peer.conn.Close()

	if err := <-errc; !errors.Is(err, xenstore.ErrConnLost) || !errors.Is(err, io.EOF) {
		t.Fatalf("pending call: %v", err)
	}
	select {
	case _, ok := <-w.Events():
		if ok {
			t.Fatal("event after loss")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("watch channel not closed")
	}
	if !errors.Is(w.Err(), xenstore.ErrConnLost) {
		t.Fatalf("watch Err = %v", w.Err())
	}
	<-c.Done()
	if !errors.Is(c.Err(), xenstore.ErrConnLost) {
		t.Fatalf("client Err = %v", c.Err())
	}
	if _, err := c.Read(ctx, "/after"); !errors.Is(err, xenstore.ErrConnLost) {
		t.Fatalf("later call: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("Close after loss: %v", err)
	}
}

func TestProtocolViolation(t *testing.T) {
	tests := []struct {
		name  string
		reply func(p *fakePeer, m rawMsg)
		fatal bool
	}{
		{"oversized header", func(p *fakePeer, m rawMsg) {
			b := binary.LittleEndian.AppendUint32(nil, m.typ)
			b = binary.LittleEndian.AppendUint32(b, m.req)
			b = binary.LittleEndian.AppendUint32(b, 0)
			b = binary.LittleEndian.AppendUint32(b, 1<<31)
			p.conn.Write(b)
		}, true},
		{"wrong reply type", func(p *fakePeer, m rawMsg) { p.write(11, m.req, 0, "OK\x00") }, false},
		{"garbage error", func(p *fakePeer, m rawMsg) { p.write(16, m.req, 0, "\xff\xff") }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, peer := newPeer(t)
			ctx := testCtx(t)
			errc := make(chan error, 1)
			go func() { _, err := c.Read(ctx, "/x"); errc <- err }()
			tt.reply(peer, peer.read())
			err := <-errc
			if !errors.Is(err, xenstore.ErrProtocol) {
				t.Fatalf("err = %v", err)
			}
			if got := c.Err() != nil; got != tt.fatal {
				t.Fatalf("connection dead = %v (%v), want %v", got, c.Err(), tt.fatal)
			}
		})
	}
}

func TestCloseClient(t *testing.T) {
	s := newServer(t)
	c := xenstore.NewClient(s.Conn())
	ctx := testCtx(t)
	w, err := c.Watch(ctx, "/w", "")
	if err != nil {
		t.Fatal(err)
	}
	s.SetStalled(true)
	errc := make(chan error, 1)
	go func() { _, err := c.Read(ctx, "/x"); errc <- err }()
	time.Sleep(10 * time.Millisecond)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; !errors.Is(err, xenstore.ErrClosed) {
		t.Fatalf("pending: %v", err)
	}
	for range w.Events() {
	}
	if !errors.Is(w.Err(), xenstore.ErrClosed) {
		t.Fatalf("watch Err = %v", w.Err())
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := c.Read(ctx, "/x"); !errors.Is(err, xenstore.ErrClosed) {
		t.Fatalf("after close: %v", err)
	}
	s.SetStalled(false)
	waitFor(t, "server drops the connection", func() bool { return s.NumConns() == 0 })
}

func TestDialPathUnixSocket(t *testing.T) {
	s := newServer(t)
	sock := filepath.Join(t.TempDir(), "socket")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(l)
	ctx := testCtx(t)
	c, err := xenstore.DialPath(ctx, sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Write(ctx, "/over/socket", []byte("yes")); err != nil {
		t.Fatal(err)
	}
	if v, _ := s.Read("/over/socket"); string(v) != "yes" {
		t.Fatalf("got %q", v)
	}

	t.Setenv("XENSTORED_PATH", sock)
	c2, err := xenstore.Dial(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c2.Close()

	if _, err := xenstore.DialPath(ctx, filepath.Join(t.TempDir(), "none")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing path: %v", err)
	}
	regular := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(regular, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := xenstore.DialPath(ctx, regular); err == nil {
		t.Fatal("dialled a regular file")
	}
}

func TestRaceStress(t *testing.T) {
	// Watches, transactions, cancellations and Close all at once, for the
	// race detector.
	s := newServer(t)
	c := xenstore.NewClient(s.Conn())
	ctx := testCtx(t)
	var wg sync.WaitGroup
	var ops atomic.Int64
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				if c.Err() != nil {
					return
				}
				short, cancel := context.WithTimeout(ctx, time.Duration(i%3)*time.Millisecond)
				switch i % 4 {
				case 0:
					c.Write(short, fmt.Sprintf("/stress/%d", g), nil)
				case 1:
					if w, err := c.Watch(short, "/stress", ""); err == nil {
						w.Close()
					}
				case 2:
					c.Transaction(short, func(tx *xenstore.Tx) error {
						return tx.Write(short, fmt.Sprintf("/stress/tx%d", g), nil)
					})
				case 3:
					c.Directory(short, "/stress")
				}
				cancel()
				ops.Add(1)
			}
		}()
	}
	waitFor(t, "some operations", func() bool { return ops.Load() > 500 })
	c.Close()
	wg.Wait()
}

func TestDirectoryPartEdgeCases(t *testing.T) {
	// Each case scripts the replies after DIRECTORY answered E2BIG.
	tests := []struct {
		name    string
		replies []string // DIRECTORY_PART payloads, or "ERR <errno>"
		want    []string
		err     error
	}{
		{"restart on generation change",
			[]string{"1\x00a\x00", "2\x00x\x00", "2\x00a\x00b\x00", "2\x00c\x00\x00"},
			[]string{"a", "b", "c"}, nil},
		{"no DIRECTORY_PART support", []string{"ERR ENOSYS"}, nil, syscall.E2BIG},
		{"no progress", []string{"1\x00a\x00", "1\x00"}, nil, xenstore.ErrProtocol},
		{"garbage", []string{"1"}, nil, xenstore.ErrProtocol},
		{"error midway", []string{"1\x00a\x00", "ERR ENOENT"}, nil, fs.ErrNotExist},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, peer := newPeer(t)
			ctx := testCtx(t)
			type res struct {
				names []string
				err   error
			}
			done := make(chan res, 1)
			go func() { n, err := c.Directory(ctx, "/d"); done <- res{n, err} }()
			m := peer.read()
			peer.write(16, m.req, 0, "E2BIG\x00")
			offsets := []string{}
			for _, r := range tt.replies {
				m := peer.read()
				if m.typ != 22 {
					t.Fatalf("type %d", m.typ)
				}
				offsets = append(offsets, strings.Split(string(m.payload), "\x00")[1])
				if errno, ok := strings.CutPrefix(r, "ERR "); ok {
					peer.write(16, m.req, 0, errno+"\x00")
				} else {
					peer.write(22, m.req, 0, r)
				}
			}
			got := <-done
			if tt.err != nil {
				if !errors.Is(got.err, tt.err) {
					t.Fatalf("err = %v, want %v", got.err, tt.err)
				}
				return
			}
			if got.err != nil || !slices.Equal(got.names, tt.want) {
				t.Fatalf("got %v, %v (offsets %v)", got.names, got.err, offsets)
			}
			if want := []string{"0", "2", "0", "4"}; !slices.Equal(offsets, want) {
				t.Fatalf("offsets %v, want %v", offsets, want)
			}
		})
	}
}
