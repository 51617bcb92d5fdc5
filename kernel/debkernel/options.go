package debkernel

import (
	"errors"

	"github.com/runxen/runxen/internal/debian/apt"
	"github.com/runxen/runxen/kernel/internal/cache"
)

// Defaults for Options.
const (
	DefaultSuite   = "trixie"
	DefaultPackage = "linux-image-amd64"
	DefaultArch    = "amd64"
	DefaultKeyring = apt.DefaultKeyring
)

// Options says which kernel to fetch and where to keep it.
type Options struct {
	// Mirror is the Debian archive URL; empty means debian.Mirror(). It is
	// only consulted on a cache miss.
	Mirror string
	// Suite is the Debian release to take the kernel from.
	Suite string
	// Package is the kernel package, usually a meta package such as
	// linux-image-amd64 that apt resolves to a versioned image package.
	Package string
	// Arch is the Debian architecture of the guest kernel.
	Arch string
	// Keyring verifies the archive. Debian's keyring on one release carries
	// the keys of the next, so a bookworm host verifies trixie.
	Keyring string
	// CacheDir holds downloaded kernels under CacheDir/kernel (required).
	CacheDir string
	// Progress, if set, receives one line per step for humans.
	Progress func(format string, args ...any)
	// Runner runs host commands; nil runs them directly.
	Runner Runner
}

func (o Options) withDefaults() (Options, error) {
	if o.CacheDir == "" {
		return o, errors.New("kernel cache directory not set")
	}
	if o.Suite == "" {
		o.Suite = DefaultSuite
	}
	if o.Package == "" {
		o.Package = DefaultPackage
	}
	if o.Arch == "" {
		o.Arch = DefaultArch
	}
	if o.Keyring == "" {
		o.Keyring = DefaultKeyring
	}
	if o.Progress == nil {
		o.Progress = func(string, ...any) {}
	}
	if o.Runner == nil {
		o.Runner = ExecRunner{}
	}
	return o, nil
}

// cacheKey names the cache entry. The mirror is deliberately not part of it:
// every mirror serves the same signed package, so switching mirrors must not
// cost a download.
func cacheKey(suite, pkg, arch string) string {
	return cache.Key(suite, pkg, arch)
}
