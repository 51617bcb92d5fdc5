package debkernel

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// markerName is written last into a cache entry: an entry without it is the
// remains of an interrupted run and is rebuilt from scratch.
const markerName = "complete.json"

// cacheFormat changes whenever an entry's content changes meaning (such as
// when modules.dep generation was added); entries of another format are
// rebuilt rather than trusted.
const cacheFormat = 1

// marker records a finished cache entry. Paths are relative to the entry so
// the cache directory can be moved.
type marker struct {
	Format     int    `json:"format"`
	Package    string `json:"package"`
	Version    string `json:"version"`
	Deb        string `json:"deb"`
	Vmlinuz    string `json:"vmlinuz"`
	ModulesDir string `json:"modulesDir"`
}

// loadCached returns the kernel recorded in entry, or ok=false if the entry
// is missing, partial or damaged.
func loadCached(entry string) (k *Kernel, ok bool) {
	data, err := os.ReadFile(filepath.Join(entry, markerName))
	if err != nil {
		return nil, false
	}
	var m marker
	if err := json.Unmarshal(data, &m); err != nil || m.Format != cacheFormat {
		return nil, false
	}
	k = &Kernel{
		Package:    m.Package,
		Version:    m.Version,
		Deb:        filepath.Join(entry, m.Deb),
		Vmlinuz:    filepath.Join(entry, m.Vmlinuz),
		ModulesDir: filepath.Join(entry, m.ModulesDir),
	}
	for _, p := range []string{m.Deb, m.Vmlinuz, m.ModulesDir} {
		if p == "" || !filepath.IsLocal(p) {
			return nil, false
		}
	}
	for _, p := range []string{k.Deb, k.Vmlinuz, k.ModulesDir} {
		if _, err := os.Stat(p); err != nil {
			return nil, false
		}
	}
	return k, true
}

// writeMarker records k as the complete content of entry. The rename makes
// the marker appear whole or not at all, and the syncs order it after the
// data it vouches for.
func writeMarker(entry string, k *Kernel) error {
	rel := func(p string) (string, error) { return filepath.Rel(entry, p) }
	m := marker{Format: cacheFormat, Package: k.Package, Version: k.Version}
	var err error
	if m.Deb, err = rel(k.Deb); err != nil {
		return err
	}
	if m.Vmlinuz, err = rel(k.Vmlinuz); err != nil {
		return err
	}
	if m.ModulesDir, err = rel(k.ModulesDir); err != nil {
		return err
	}
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(entry, ".marker-*")
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
	if err := os.Rename(tmp.Name(), filepath.Join(entry, markerName)); err != nil {
		return fmt.Errorf("commit cache marker: %w", err)
	}
	return syncDir(entry)
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

// locate finds the kernel inside an extracted image package. Debian ships
// modules under /lib/modules, or /usr/lib/modules once a package follows
// the /usr merge, so both are accepted.
func locate(root string) (version, vmlinuz, modules string, err error) {
	matches, _ := filepath.Glob(filepath.Join(root, "boot", "vmlinuz-*"))
	if len(matches) != 1 {
		return "", "", "", fmt.Errorf("want exactly one boot/vmlinuz-* in the package, found %d", len(matches))
	}
	vmlinuz = matches[0]
	version = strings.TrimPrefix(filepath.Base(vmlinuz), "vmlinuz-")
	for _, dir := range []string{"lib/modules", "usr/lib/modules"} {
		modules = filepath.Join(root, dir, version)
		if fi, err := os.Stat(modules); err == nil && fi.IsDir() {
			return version, vmlinuz, modules, nil
		}
	}
	return "", "", "", fmt.Errorf("kernel %s: no lib/modules/%s in the package", version, version)
}
