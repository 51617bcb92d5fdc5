package debpkg

import (
	"os"
	"path/filepath"
	"slices"

	"github.com/runxen/runxen/kernel/internal/cache"
)

// cacheFormat changes whenever an entry's content changes meaning; entries
// of another format are rebuilt rather than trusted.
const cacheFormat = 1

// marker records a finished entry. Paths are relative to the entry so the
// cache directory can be moved.
type marker struct {
	Format   int       `json:"format"`
	Suite    string    `json:"suite"`
	Arch     string    `json:"arch"`
	Root     string    `json:"root"`
	Packages []Package `json:"packages"`
}

// loadCached returns the tree recorded in the entry, or ok=false if the
// entry is missing, partial, damaged or for other packages than o's.
func loadCached(e *cache.Entry, o Options) (t *Tree, ok bool) {
	var m marker
	if !e.Load(&m) || m.Format != cacheFormat || m.Suite != o.Suite || m.Arch != o.Arch {
		return nil, false
	}
	names := make([]string, len(m.Packages))
	for i, p := range m.Packages {
		names[i] = p.Name
	}
	if !slices.Equal(names, o.Packages) {
		return nil, false
	}
	t = &Tree{}
	if t.Root, ok = e.Path(m.Root); !ok {
		return nil, false
	}
	if fi, err := os.Stat(t.Root); err != nil || !fi.IsDir() {
		return nil, false
	}
	for _, p := range m.Packages {
		if p.Deb, ok = e.Path(p.Deb); !ok {
			return nil, false
		}
		if _, err := os.Stat(p.Deb); err != nil {
			return nil, false
		}
		t.Packages = append(t.Packages, p)
	}
	return t, true
}

func writeMarker(e *cache.Entry, o Options, t *Tree) error {
	rel := func(p string) (string, error) { return filepath.Rel(e.Dir, p) }
	m := marker{Format: cacheFormat, Suite: o.Suite, Arch: o.Arch}
	var err error
	if m.Root, err = rel(t.Root); err != nil {
		return err
	}
	for _, p := range t.Packages {
		if p.Deb, err = rel(p.Deb); err != nil {
			return err
		}
		m.Packages = append(m.Packages, p)
	}
	return e.Commit(m)
}
