package bundle

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/containerd/errdefs"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/runxen/runxen/shim/hooks"
)

// SpecFile is the spec's name in a bundle.
const SpecFile = "config.json"

// MaxSpecSize bounds config.json. Real specs are a few KiB to a few hundred
// KiB (a long environment, many mounts); the bound only keeps a broken or
// hostile file from exhausting the shim's memory.
const MaxSpecSize = 16 << 20

// ReadSpec reads and checks the spec of the bundle in dir.
func ReadSpec(dir string) (*specs.Spec, error) {
	f, err := os.Open(filepath.Join(dir, SpecFile))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("bundle %s has no %s: %w", dir, SpecFile, errdefs.ErrNotFound)
		}
		return nil, fmt.Errorf("read spec of bundle %s: %w", dir, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxSpecSize+1))
	if err != nil {
		return nil, fmt.Errorf("read spec of bundle %s: %w", dir, err)
	}
	if len(data) > MaxSpecSize {
		return nil, fmt.Errorf("spec of bundle %s is larger than %d bytes: %w", dir, MaxSpecSize, errdefs.ErrInvalidArgument)
	}
	return ParseSpec(data)
}

// ParseSpec decodes a spec and checks what the shim needs of it: a process,
// a root, and hooks it can run (shim/hooks.Validate: host-side hooks with
// absolute paths only). Everything else is checked where the spec is
// translated for the guest (runtime/sandbox).
func ParseSpec(data []byte) (*specs.Spec, error) {
	var s specs.Spec
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("parse %s: %v: %w", SpecFile, err, errdefs.ErrInvalidArgument)
	}
	if s.Process == nil {
		return nil, fmt.Errorf("spec has no process: %w", errdefs.ErrInvalidArgument)
	}
	if s.Root == nil || s.Root.Path == "" {
		return nil, fmt.Errorf("spec has no root.path: %w", errdefs.ErrInvalidArgument)
	}
	if err := hooks.Validate(s.Hooks); err != nil {
		return nil, err
	}
	return &s, nil
}

// RootfsDir is the host directory of the container's root file system: the
// spec's root.path when absolute (Docker mounts the image itself and names
// the mount), else root.path inside the bundle (containerd's clients, whose
// rootfs mounts the shim mounts at MountDir).
func RootfsDir(bundleDir string, s *specs.Spec) string {
	if filepath.IsAbs(s.Root.Path) {
		return filepath.Clean(s.Root.Path)
	}
	return filepath.Join(bundleDir, s.Root.Path)
}

// MountDir is where the shim mounts CreateTaskRequest.Rootfs, as
// containerd's runc shim does.
func MountDir(bundleDir string) string { return filepath.Join(bundleDir, "rootfs") }
