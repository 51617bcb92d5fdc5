package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/runxen/runxen/kernel/debkernel"
	"github.com/runxen/runxen/kernel/kmod"
)

// Environment variables that swap in another kernel without fetching.
const (
	envKernel  = "RUNXEN_GUEST_KERNEL"  // path to a vmlinuz
	envModules = "RUNXEN_GUEST_MODULES" // path to its lib/modules/VERSION
)

func kernelCommand() *cli.Command {
	return &cli.Command{
		Name:  "kernel",
		Usage: "fetch (or take from $" + envKernel + ") the guest kernel into --out",
		Description: "Writes OUT/vmlinuz, OUT/modules/VERSION/, OUT/config (the kernel's build configuration,\n" +
			"when there is a config-VERSION next to the kernel) and, last, OUT/kernel.version.\n" +
			"Set " + envKernel + "=/path/to/vmlinuz and " + envModules + "=/path/to/lib/modules/VERSION\n" +
			"to use another kernel instead of Debian's.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "cache", Usage: "download cache `DIR`", Required: true},
			&cli.StringFlag{Name: "out", Usage: "output `DIR`", Required: true},
			&cli.StringFlag{Name: "suite", Usage: "Debian suite", Value: debkernel.DefaultSuite},
			&cli.StringFlag{Name: "package", Usage: "kernel package", Value: debkernel.DefaultPackage},
			&cli.StringFlag{Name: "mirror", Usage: "Debian mirror `URL` (default: $RUNXEN_DEBIAN_MIRROR, then apt's)"},
		},
		Action: func(c *cli.Context) error {
			src, err := kernelSource(c)
			if err != nil {
				return err
			}
			out := c.String("out")
			if err := installKernel(c, src, out); err != nil {
				return fmt.Errorf("install kernel %s into %s: %w", src.version, out, err)
			}
			fmt.Printf("kernel %s: %s %s\n", src.version, filepath.Join(out, "vmlinuz"), filepath.Join(out, "modules", src.version))
			return nil
		},
	}
}

type kernelFiles struct {
	version, vmlinuz, modules string
	// config is the kernel's build configuration, if it has one: Debian
	// ships it as config-VERSION next to vmlinuz-VERSION in /boot.
	config string
}

// configNextTo returns the config-VERSION file next to vmlinuz, or "".
func configNextTo(vmlinuz, version string) string {
	p := filepath.Join(filepath.Dir(vmlinuz), "config-"+version)
	if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
		return p
	}
	return ""
}

func kernelSource(c *cli.Context) (kernelFiles, error) {
	vmlinuz, modules := os.Getenv(envKernel), os.Getenv(envModules)
	if vmlinuz != "" || modules != "" {
		if vmlinuz == "" || modules == "" {
			return kernelFiles{}, fmt.Errorf("set both %s and %s, or neither", envKernel, envModules)
		}
		modules = filepath.Clean(modules)
		fmt.Fprintf(os.Stderr, "kernel: using %s and %s from the environment\n", vmlinuz, modules)
		version := filepath.Base(modules)
		return kernelFiles{version: version, vmlinuz: vmlinuz, modules: modules, config: configNextTo(vmlinuz, version)}, nil
	}
	k, err := debkernel.Fetch(c.Context, debkernel.Options{
		Mirror:   c.String("mirror"),
		Suite:    c.String("suite"),
		Package:  c.String("package"),
		CacheDir: c.String("cache"),
		Progress: func(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) },
	})
	if err != nil {
		return kernelFiles{}, err
	}
	return kernelFiles{version: k.Version, vmlinuz: k.Vmlinuz, modules: k.ModulesDir, config: configNextTo(k.Vmlinuz, k.Version)}, nil
}

// installKernel copies the kernel into out. kernel.version is written last
// and only when everything else is in place, so it marks a complete output;
// when out already holds the same kernel nothing is touched, which keeps
// make from rebuilding what depends on it.
func installKernel(c *cli.Context, src kernelFiles, out string) error {
	if src.version == "" || src.version == "." || src.version == ".." || src.version == string(filepath.Separator) {
		return fmt.Errorf("cannot tell the kernel version from %q", src.modules)
	}
	if fi, err := os.Stat(src.modules); err != nil || !fi.IsDir() {
		return fmt.Errorf("modules directory %s: not a directory (%v)", src.modules, err)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	if upToDate(src, out) {
		fmt.Fprintf(os.Stderr, "kernel: %s already up to date\n", out)
		return nil
	}
	versionFile := filepath.Join(out, "kernel.version")
	if err := os.Remove(versionFile); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if err := copyFileAtomic(src.vmlinuz, filepath.Join(out, "vmlinuz"), 0o644); err != nil {
		return err
	}
	config := filepath.Join(out, "config")
	if src.config != "" {
		if err := copyFileAtomic(src.config, config, 0o644); err != nil {
			return err
		}
	} else if err := os.Remove(config); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	modules := filepath.Join(out, "modules")
	tmp, err := os.MkdirTemp(out, ".modules-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	// MkdirTemp makes it private; the tree is meant to be read by anyone.
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	dst := filepath.Join(tmp, src.version)
	if err := copyTree(src.modules, dst); err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(dst, "modules.dep")); errors.Is(err, os.ErrNotExist) {
		fmt.Fprintf(os.Stderr, "kernel: %s has no modules.dep; generating it\n", src.modules)
		if err := kmod.GenerateDep(c.Context, dst); err != nil {
			return err
		}
	}
	if err := os.RemoveAll(modules); err != nil {
		return err
	}
	if err := os.Rename(tmp, modules); err != nil {
		return err
	}
	return writeFileAtomic(versionFile, []byte(src.version+"\n"), 0o644)
}

func upToDate(src kernelFiles, out string) bool {
	v, err := os.ReadFile(filepath.Join(out, "kernel.version"))
	if err != nil || strings.TrimSpace(string(v)) != src.version {
		return false
	}
	if _, err := os.Stat(filepath.Join(out, "modules", src.version, "modules.dep")); err != nil {
		return false
	}
	if !sameFile(src.vmlinuz, filepath.Join(out, "vmlinuz")) {
		return false
	}
	if src.config == "" {
		_, err := os.Stat(filepath.Join(out, "config"))
		return errors.Is(err, os.ErrNotExist)
	}
	return sameFile(src.config, filepath.Join(out, "config"))
}

func sameFile(a, b string) bool {
	da, errA := os.ReadFile(a)
	db, errB := os.ReadFile(b)
	return errA == nil && errB == nil && bytes.Equal(da, db)
}
