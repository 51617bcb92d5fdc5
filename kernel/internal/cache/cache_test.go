package cache

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestKey(t *testing.T) {
	base := Key("trixie", "linux-image-amd64", "amd64")
	if len(base) != 16 {
		t.Errorf("key %q: want 16 hex digits", base)
	}
	// The kernel cache's existing entries were keyed like this; changing
	// the function would orphan them.
	if base != "8cd0a6d96ad8103d" {
		t.Errorf("Key changed: %s", base)
	}
	for _, other := range []string{
		Key("forky", "linux-image-amd64", "amd64"),
		Key("trixie", "linux-image-cloud-amd64", "amd64"),
		Key("trixie", "linux-image-amd64", "arm64"),
		Key("trixie", "linux-image-amd64a", "md64"),
		Key("trixie", "linux-image-amd64", "amd64", ""),
	} {
		if other == base {
			t.Errorf("key collision: %q", other)
		}
	}
}

type testMarker struct {
	Format int    `json:"format"`
	Name   string `json:"name"`
}

func TestEntryLifecycle(t *testing.T) {
	root := filepath.Join(t.TempDir(), "kind")
	e, err := Open(context.Background(), root, "k", nil)
	if err != nil {
		t.Fatal(err)
	}
	var m testMarker
	if e.Load(&m) {
		t.Fatal("a missing entry loaded")
	}
	if err := os.MkdirAll(filepath.Join(e.Dir, "junk"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := e.Reset(); err != nil {
		t.Fatal(err)
	}
	if left, _ := os.ReadDir(e.Dir); len(left) != 0 {
		t.Errorf("Reset left %v", left)
	}
	if err := e.Commit(testMarker{Format: 1, Name: "x"}); err != nil {
		t.Fatal(err)
	}
	if !e.Load(&m) || m != (testMarker{1, "x"}) {
		t.Errorf("Load = %+v", m)
	}
	if left, _ := filepath.Glob(filepath.Join(e.Dir, ".marker-*")); len(left) != 0 {
		t.Errorf("temporary marker left: %v", left)
	}
	if err := os.WriteFile(filepath.Join(e.Dir, MarkerName), []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	if e.Load(&m) {
		t.Error("a corrupt marker loaded")
	}
	e.Close()
	e.Close() // harmless twice
}

func TestEntryPath(t *testing.T) {
	e := &Entry{Dir: "/c/e"}
	tests := []struct {
		rel  string
		want string
		ok   bool
	}{
		{"root", "/c/e/root", true},
		{"debs/x.deb", "/c/e/debs/x.deb", true},
		{"", "", false},
		{"../x", "", false},
		{"/etc", "", false},
	}
	for _, tt := range tests {
		got, ok := e.Path(tt.rel)
		if got != tt.want || ok != tt.ok {
			t.Errorf("Path(%q) = %q, %v", tt.rel, got, ok)
		}
	}
}

func TestOpenWaitsForHolder(t *testing.T) {
	root := t.TempDir()
	first, err := Open(context.Background(), root, "k", nil)
	if err != nil {
		t.Fatal(err)
	}
	waited := make(chan struct{})
	got := make(chan *Entry)
	go func() {
		e, err := Open(context.Background(), root, "k", func() { close(waited) })
		if err != nil {
			t.Error(err)
		}
		got <- e
	}()
	<-waited
	select {
	case <-got:
		t.Fatal("second Open did not wait")
	case <-time.After(50 * time.Millisecond):
	}
	first.Close()
	(<-got).Close()
}

func TestOpenHonoursContext(t *testing.T) {
	root := t.TempDir()
	first, err := Open(context.Background(), root, "k", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Open(ctx, root, "k", nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestStep(t *testing.T) {
	var lines []string
	p := func(format string, args ...any) {
		lines = append(lines, strings.TrimSpace(strings.ReplaceAll(format, "%s", "X")))
	}
	if err := Step(p, "pkg", "download", func() error { return nil }); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	if err := Step(p, "pkg", "extract", func() error { return boom }); err != boom {
		t.Fatalf("err = %v", err)
	}
	want := []string{"X: X ...", "X: X done in X", "X: X ..."}
	if strings.Join(lines, "|") != strings.Join(want, "|") {
		t.Errorf("lines = %q", lines)
	}
}
