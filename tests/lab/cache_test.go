package lab

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestCacheKey(t *testing.T) {
	a := cacheKey("trixie", "xen")
	if a != cacheKey("trixie", "xen") {
		t.Fatal("same inputs gave different keys")
	}
	for _, other := range [][]string{{"trixie", "xen2"}, {"trixiex", "en"}, {"trixie"}, {"trixie", "xen", ""}} {
		if cacheKey(other...) == a {
			t.Errorf("inputs %q collide with trixie,xen", other)
		}
	}
}

func TestCachedBuildsOnceAndRebuildsPartial(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "entry")
	builds := 0
	build := func(d string) error {
		builds++
		return os.WriteFile(filepath.Join(d, "out"), []byte("x"), 0o644)
	}
	for i := 0; i < 2; i++ {
		if err := cached(dir, build); err != nil {
			t.Fatal(err)
		}
	}
	if builds != 1 {
		t.Fatalf("built %d times, want 1", builds)
	}

	// A failed build leaves no marker, so the next call starts from an empty directory.
	partial := filepath.Join(t.TempDir(), "partial")
	if err := cached(partial, func(d string) error {
		_ = os.WriteFile(filepath.Join(d, "junk"), nil, 0o644)
		return errors.New("interrupted")
	}); err == nil {
		t.Fatal("failed build reported success")
	}
	if err := cached(partial, func(d string) error {
		if _, err := os.Stat(filepath.Join(d, "junk")); err == nil {
			t.Error("partial output survived into the rebuild")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}
