// Package cache keeps the entries of runxen's download cache: directories
// guarded by a lock file and vouched for by a completion marker written
// last, so that an interrupted build is noticed and redone, and concurrent
// builders of one entry wait for each other instead of colliding.
package cache

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// MarkerName is written last into an entry: an entry without it is the
// remains of an interrupted run and is rebuilt from scratch.
const MarkerName = "complete.json"

// Key names an entry after the inputs that determine its content: a short
// sha256 of the parts, each terminated so that ("ab", "c") and ("a", "bc")
// differ.
func Key(parts ...string) string {
	sum := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return hex.EncodeToString(sum[:8])
}

// Entry is one locked cache entry, the directory Dir.
type Entry struct {
	Dir    string
	unlock func()
}

// Open locks the entry root/key (creating root) and returns it; the
// directory itself may not exist yet. waiting, if not nil, is called once
// if another process holds the entry. Close releases the lock.
func Open(ctx context.Context, root, key string, waiting func()) (*Entry, error) {
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, fmt.Errorf("create cache: %w", err)
	}
	dir := filepath.Join(root, key)
	unlock, err := Lock(ctx, dir+".lock", waiting)
	if err != nil {
		return nil, err
	}
	return &Entry{Dir: dir, unlock: unlock}, nil
}

// Close releases the entry's lock.
func (e *Entry) Close() {
	if e.unlock != nil {
		e.unlock()
		e.unlock = nil
	}
}

// Load decodes the entry's marker into v. It returns false if the entry is
// incomplete or the marker unreadable; the caller still checks that what
// the marker names is there.
func (e *Entry) Load(v any) bool {
	data, err := os.ReadFile(filepath.Join(e.Dir, MarkerName))
	if err != nil {
		return false
	}
	return json.Unmarshal(data, v) == nil
}

// Reset empties the entry: anything in it without a valid marker is a run
// that died half way, whose files cannot be trusted.
func (e *Entry) Reset() error {
	if err := os.RemoveAll(e.Dir); err != nil {
		return fmt.Errorf("remove partial cache entry %s: %w", e.Dir, err)
	}
	if err := os.Mkdir(e.Dir, 0o755); err != nil {
		return fmt.Errorf("create cache entry: %w", err)
	}
	return nil
}

// Commit records v as the marker. The rename makes the marker appear whole
// or not at all, and the syncs order it after the data it vouches for.
func (e *Entry) Commit(v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(e.Dir, ".marker-*")
	if err != nil {
		return fmt.Errorf("write cache marker: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("write cache marker: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("sync cache marker: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write cache marker: %w", err)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(e.Dir, MarkerName)); err != nil {
		return fmt.Errorf("commit cache marker: %w", err)
	}
	return syncDir(e.Dir)
}

// Path returns the entry-relative path rel as a path under the entry,
// refusing one that would leave it: markers are data read back from disk.
func (e *Entry) Path(rel string) (string, bool) {
	if rel == "" || !filepath.IsLocal(rel) {
		return "", false
	}
	return filepath.Join(e.Dir, rel), true
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

// Progress receives one line per step, for humans.
type Progress func(format string, args ...any)

// Step runs fn as the named step, reporting its start and, if it succeeds,
// how long it took: "prefix: name ..." then "prefix: name done in 1.2s".
func Step(p Progress, prefix, name string, fn func() error) error {
	start := time.Now()
	p("%s: %s ...", prefix, name)
	if err := fn(); err != nil {
		return err
	}
	p("%s: %s done in %s", prefix, name, time.Since(start).Round(time.Millisecond))
	return nil
}
