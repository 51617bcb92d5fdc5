//go:build linux

package cgroup

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestOOMWatcher(t *testing.T) {
	events := make(chan string, 10)
	w, err := NewOOMWatcher(func(id string) { events <- id })
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { w.Run(); close(done) }()
	t.Cleanup(func() {
		w.Close()
		<-done
	})

	a := writeCgroup(t, map[string]string{"memory.events": "oom 1\noom_kill 1\n"})
	b := writeCgroup(t, map[string]string{"memory.events": "oom 0\noom_kill 0\n"})
	if err := w.Add("a", a); err != nil {
		t.Fatal(err)
	}
	if err := w.Add("b", b); err != nil {
		t.Fatal(err)
	}
	if err := w.Add("a", a); err == nil {
		t.Error("adding a twice succeeded")
	}
	if err := w.Add("c", t.TempDir()); err == nil {
		t.Error("watching a cgroup without memory.events succeeded")
	}
	write := func(dir, content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, "memory.events"), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	expect := func(want string) {
		t.Helper()
		select {
		case id := <-events:
			if id != want {
				t.Fatalf("oom event for %q, want %q", id, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no oom event for %q", want)
		}
	}
	noEvent := func() {
		t.Helper()
		select {
		case id := <-events:
			t.Fatalf("unexpected oom event for %q", id)
		case <-time.After(100 * time.Millisecond):
		}
	}

	write(a, "oom 2\noom_kill 1\n") // oom without a kill: nothing
	noEvent()
	write(b, "oom 1\noom_kill 1\n")
	expect("b")
	write(a, "oom 3\noom_kill 2\n") // the baseline was 1
	expect("a")
	w.Remove("a")
	w.Remove("a")
	write(a, "oom 4\noom_kill 3\n")
	noEvent()
	write(b, "oom 1\nmangled\n") // unreadable: logged, not reported
	noEvent()
	write(b, "oom 1\noom_kill 4\n")
	expect("b")
}
