package kmod

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/containerd/log"
)

// GenerateDep writes dir/modules.dep for the module tree at dir, the way
// depmod(8) would, from the "depends=" that modpost recorded in each
// module's .modinfo. Every module has to be decompressed, so the work is
// spread over all CPUs.
func GenerateDep(ctx context.Context, dir string) error {
	paths, err := findModules(ctx, dir)
	if err != nil {
		return err
	}
	names := make([]string, 0, len(paths))
	for n := range paths {
		names = append(names, n)
	}
	sort.Strings(names)
	direct, err := readDepends(ctx, dir, names, paths)
	if err != nil {
		return err
	}

	for _, n := range names {
		known := direct[n][:0]
		for _, d := range direct[n] {
			if _, ok := paths[d]; ok {
				known = append(known, d)
			} else {
				// depmod only warns too: the module may never be loaded.
				log.G(ctx).WithField("module", n).WithField("needs", d).Warn("module needs a module the tree does not have")
			}
		}
		direct[n] = known
	}

	entries := make([]DepEntry, 0, len(names))
	for _, n := range names {
		order, err := loadOrder([]string{n}, func(m string) ([]string, error) { return direct[m], nil })
		if err != nil {
			return fmt.Errorf("modules in %s: %w", dir, err)
		}
		// order ends with n itself; depmod lists the rest in reverse
		// load order.
		deps := make([]string, 0, len(order)-1)
		for i := len(order) - 2; i >= 0; i-- {
			deps = append(deps, paths[order[i]])
		}
		entries = append(entries, DepEntry{Path: paths[n], Deps: deps})
	}
	slices.SortFunc(entries, func(a, b DepEntry) int { return strings.Compare(a.Path, b.Path) })
	return writeFileAtomic(filepath.Join(dir, "modules.dep"), func(f *os.File) error { return WriteDep(f, entries) })
}

// findModules maps module names to paths relative to dir. When two files
// carry the same name, depmod's default search order applies: updates/
// before anything else, then the first path.
func findModules(ctx context.Context, dir string) (map[string]string, error) {
	paths := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil // directories are walked; build/source symlinks are not
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		name, ok := NameFromPath(rel)
		if !ok {
			return nil
		}
		if prev, dup := paths[name]; dup {
			log.G(ctx).WithField("module", name).WithField("kept", preferred(prev, rel)).Warn("two files for one module")
			rel = preferred(prev, rel)
		}
		paths[name] = rel
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("scan modules in %s: %w", dir, err)
	}
	return paths, nil
}

func preferred(a, b string) string {
	au, bu := strings.HasPrefix(a, "updates/"), strings.HasPrefix(b, "updates/")
	if au != bu {
		if au {
			return a
		}
		return b
	}
	return min(a, b)
}

// readDepends reads each module's direct dependencies in parallel.
func readDepends(ctx context.Context, dir string, names []string, paths map[string]string) (map[string][]string, error) {
	var (
		mu       sync.Mutex
		direct   = make(map[string][]string, len(names))
		firstErr error
		work     = make(chan string)
		wg       sync.WaitGroup
	)
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range work {
				deps, err := moduleDepends(filepath.Join(dir, paths[n]))
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				direct[n] = deps
				mu.Unlock()
			}
		}()
	}
	for _, n := range names {
		mu.Lock()
		stop := firstErr != nil
		mu.Unlock()
		if stop || ctx.Err() != nil {
			break
		}
		work <- n
	}
	close(work)
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return direct, nil
}

func moduleDepends(path string) ([]string, error) {
	data, err := ReadModule(path)
	if err != nil {
		return nil, err
	}
	info, err := ReadModInfo(data)
	if err != nil {
		return nil, fmt.Errorf("module %s: %w", path, err)
	}
	return info.Depends(), nil
}

// writeFileAtomic replaces path with what write produces, so a reader never
// sees a half-written modules.dep.
func writeFileAtomic(path string, write func(*os.File) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if err := write(tmp); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
