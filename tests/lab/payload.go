package lab

import (
	"context"
	_ "embed"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
)

//go:embed dom0/init.sh
var dom0InitScript []byte

// buildPayload packs what changes with project code into a small ext4 image that dom0 mounts
// read-only at /lab/payload: the init script, labd, and the bin directory (project binaries
// under bin/, guest images under bin/guest/; Options.BinDir). Building it takes seconds, so it is made afresh at
// every boot and the dom0 image is never rebuilt for a code change.
func buildPayload(ctx context.Context, o Options, runDir string) (string, error) {
	stage := filepath.Join(runDir, "payload")
	if err := os.MkdirAll(filepath.Join(stage, "lab"), 0o755); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(stage, "lab", "init.sh"), dom0InitScript, 0o755); err != nil {
		return "", err
	}
	build := exec.CommandContext(ctx, "go", "build", "-o", filepath.Join(stage, "lab", "labd"), "./tests/lab/cmd/labd")
	build.Dir = o.RepoDir
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build labd: %w: %s", err, out)
	}
	bin := o.BinDir
	size, err := copyTree(bin, filepath.Join(stage, "bin"))
	if err != nil {
		return "", fmt.Errorf("stage %s (run `make` first): %w", bin, err)
	}
	img := filepath.Join(runDir, "payload.img")
	// ext4 needs room for metadata beside the files; 64 MiB of slack covers labd and small files.
	mib := size/(1<<20)*5/4 + 64
	if out, err := exec.CommandContext(ctx, "mkfs.ext4", "-q", "-F", "-d", stage, "-L", "runxen-payload", img, fmt.Sprintf("%dM", mib)).CombinedOutput(); err != nil {
		return "", fmt.Errorf("mkfs.ext4 payload: %w: %s", err, out)
	}
	return img, os.RemoveAll(stage)
}

// copyTree copies regular files and directories (hard-linking where it can) and returns the
// number of bytes staged.
func copyTree(src, dst string) (int64, error) {
	var total int64
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if !info.Mode().IsRegular() {
			return nil
		}
		total += info.Size()
		if os.Link(path, target) == nil {
			return nil
		}
		return copyFile(path, target, info.Mode().Perm())
	})
	return total, err
}
