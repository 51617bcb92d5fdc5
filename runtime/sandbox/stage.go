package sandbox

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/runxen/runxen/runtime/ocispec"
)

// Mounter makes and removes the host bind mounts that stage files for the
// guest. Tests give a fake; nil in Config means the real one (Linux
// mount(2); it needs CAP_SYS_ADMIN, as the shim has).
type Mounter interface {
	// BindFile bind-mounts the file src onto the existing file dst,
	// read-only if ro.
	BindFile(src, dst string, ro bool) error
	// Unmount removes the mount at dst; a dst with nothing mounted is not
	// an error.
	Unmount(dst string) error
}

// stage is the container's staging directory: <state_dir>/<ns>/<id>.
type stage struct {
	dir     string
	mounter Mounter
	mounted []string // guarded by the Sandbox's lifecycle
	made    bool     // dir was created by us
}

// files stages every share's Files: mkdir the share's directory, create an
// empty mount point per file, bind the host file onto it. On error what
// was staged stays recorded for remove.
func (st *stage) files(shares []ocispec.Share) error {
	for _, sh := range shares {
		if len(sh.Files) == 0 {
			continue
		}
		if !st.made {
			if err := os.MkdirAll(st.dir, 0o700); err != nil {
				return fmt.Errorf("staging directory: %w", err)
			}
			st.made = true
		}
		// The share's own directory must be new: what is in it is served.
		if err := os.Mkdir(sh.HostDir, 0o755); err != nil {
			return fmt.Errorf("staging directory of share %q: %w", sh.Tag, err)
		}
		for _, f := range sh.Files {
			dst := filepath.Join(sh.HostDir, f.Name)
			mp, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
			if err != nil {
				return fmt.Errorf("stage %s: %w", f.Source, err)
			}
			mp.Close()
			if err := st.mounter.BindFile(f.Source, dst, sh.ReadOnly); err != nil {
				return fmt.Errorf("stage %s for share %q: %w", f.Source, sh.Tag, err)
			}
			st.mounted = append(st.mounted, dst)
		}
	}
	return nil
}

// remove unmounts every staged file and removes the staging directory.
// Nothing is removed while a mount could not be taken down: removing a
// directory tree that still holds a bind mount is what must never happen.
func (st *stage) remove() error {
	var errs []error
	left := st.mounted[:0]
	for _, p := range st.mounted {
		if err := st.mounter.Unmount(p); err != nil {
			errs = append(errs, fmt.Errorf("unmount staged file %s: %w", p, err))
			left = append(left, p)
		}
	}
	st.mounted = left
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	if st.made {
		if err := removeStaging(st.dir); err != nil {
			return err
		}
		st.made = false
		// The namespace's directory goes when it is empty.
		_ = os.Remove(filepath.Dir(st.dir))
	}
	return nil
}

// removeStaging removes the staging tree: share directories holding empty
// mount-point files. It refuses anything else (a directory inside a share
// directory, a file with content), which would mean a mount is still
// there after all.
func removeStaging(dir string) error {
	shares, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("remove staging %s: %w", dir, err)
	}
	for _, sh := range shares {
		p := filepath.Join(dir, sh.Name())
		files, err := os.ReadDir(p)
		if err != nil {
			return fmt.Errorf("remove staging %s: %w", p, err)
		}
		for _, f := range files {
			fp := filepath.Join(p, f.Name())
			fi, err := os.Lstat(fp)
			if err != nil {
				return fmt.Errorf("remove staging %s: %w", fp, err)
			}
			if !fi.Mode().IsRegular() || fi.Size() != 0 {
				return fmt.Errorf("remove staging %s: not an empty mount point (still mounted?); left in place", fp)
			}
			if err := os.Remove(fp); err != nil {
				return fmt.Errorf("remove staging %s: %w", fp, err)
			}
		}
		if err := os.Remove(p); err != nil {
			return fmt.Errorf("remove staging %s: %w", p, err)
		}
	}
	if err := os.Remove(dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove staging %s: %w", dir, err)
	}
	return nil
}
