package lab

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// Options configures a lab. The zero value plus Defaults() is what `make test` uses; each field
// has an environment override so that a developer can change it without editing code.
type Options struct {
	// RepoDir is the runxen checkout.
	RepoDir string
	// BinDir holds the binaries and guest images shipped into dom0 (RUNXEN_BIN_DIR, default
	// <repo>/bin).
	BinDir string
	// CacheDir holds everything the lab builds (RUNXEN_CACHE, default ~/.cache/runxen).
	CacheDir string
	// Mirror is the Debian archive to build from (RUNXEN_DEBIAN_MIRROR, default: the host's
	// own apt configuration).
	Mirror string
	// ArtifactsDir receives the logs of failed tests (RUNXEN_ARTIFACTS, default
	// <repo>/tests/artifacts).
	ArtifactsDir string
	// Accel is "auto" (KVM when it really runs Xen here, else TCG), "kvm" or "tcg"
	// (RUNXEN_ACCEL).
	Accel string
	// MemoryMiB is the QEMU machine's memory; Dom0MiB of it goes to dom0, the rest to guests.
	MemoryMiB, Dom0MiB int
	// BootTimeout bounds one boot attempt, BootAttempts how many are made before giving up.
	BootTimeout  time.Duration
	BootAttempts int
	// Progress receives step-by-step progress (default os.Stderr).
	Progress io.Writer
}

// Defaults fills unset fields from the environment and built-in defaults.
func (o Options) Defaults() (Options, error) {
	var err error
	if o.RepoDir == "" {
		if o.RepoDir, err = findRepo(); err != nil {
			return o, err
		}
	}
	if o.BinDir == "" {
		o.BinDir = envOr("RUNXEN_BIN_DIR", filepath.Join(o.RepoDir, "bin"))
	}
	if o.CacheDir == "" {
		o.CacheDir = os.Getenv("RUNXEN_CACHE")
	}
	if o.CacheDir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return o, fmt.Errorf("find cache dir: %w", err)
		}
		o.CacheDir = filepath.Join(home, ".cache", "runxen")
	}
	if o.ArtifactsDir == "" {
		o.ArtifactsDir = os.Getenv("RUNXEN_ARTIFACTS")
	}
	if o.ArtifactsDir == "" {
		o.ArtifactsDir = filepath.Join(o.RepoDir, "tests", "artifacts")
	}
	if o.Accel == "" {
		o.Accel = envOr("RUNXEN_ACCEL", "auto")
	}
	switch o.Accel {
	case "auto", "kvm", "tcg":
	default:
		return o, fmt.Errorf("RUNXEN_ACCEL=%q: want auto, kvm or tcg", o.Accel)
	}
	if o.MemoryMiB == 0 {
		o.MemoryMiB = envInt("RUNXEN_LAB_MEMORY_MIB", 6144)
	}
	if o.Dom0MiB == 0 {
		o.Dom0MiB = envInt("RUNXEN_LAB_DOM0_MIB", 2048)
	}
	if o.Dom0MiB >= o.MemoryMiB {
		return o, fmt.Errorf("dom0 memory %d MiB leaves nothing for guests in a %d MiB lab", o.Dom0MiB, o.MemoryMiB)
	}
	if o.BootTimeout == 0 {
		o.BootTimeout = time.Duration(envInt("RUNXEN_LAB_BOOT_TIMEOUT", 480)) * time.Second
	}
	if o.BootAttempts == 0 {
		o.BootAttempts = 3
	}
	if o.Progress == nil {
		o.Progress = os.Stderr
	}
	return o, nil
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func envInt(key string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(key)); err == nil && v > 0 {
		return v
	}
	return def
}

// findRepo walks up from the working directory to the directory holding runxen's go.mod.
func findRepo() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && isRunxenMod(b) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("cannot find the runxen checkout (go.mod) above the working directory")
		}
		dir = parent
	}
}

func isRunxenMod(b []byte) bool {
	const want = "module github.com/runxen/runxen\n"
	return len(b) >= len(want) && string(b[:len(want)]) == want
}
