package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/runxen/runxen/kernel/initramfs"
)

func initramfsCommand() *cli.Command {
	return &cli.Command{
		Name:  "initramfs",
		Usage: "build a reproducible initramfs around a static /init",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "init", Usage: "static init `BINARY`", Required: true},
			&cli.StringFlag{Name: "modules-dir", Usage: "lib/modules/VERSION `DIR`, or a directory holding exactly one VERSION (as written by the kernel command)"},
			&cli.StringFlag{Name: "kernel-version", Usage: "kernel `VERSION` (default: the name of the modules directory)"},
			&cli.StringFlag{Name: "modules", Usage: "comma-separated module `NAMES`, loaded in this order after their dependencies", Value: strings.Join(initramfs.DefaultModules, ",")},
			&cli.StringSliceFlag{Name: "file", Usage: "extra file `SRC:DST[:MODE]` (MODE in octal); repeatable"},
			&cli.StringFlag{Name: "out", Usage: "output `FILE`", Required: true},
		},
		Action: func(c *cli.Context) error {
			spec, err := initramfsSpec(c)
			if err != nil {
				return err
			}
			out := c.String("out")
			if err := writeAtomic(out, 0o644, func(w io.Writer) error { return initramfs.Build(w, spec) }); err != nil {
				return err
			}
			fmt.Printf("initramfs: %s (kernel %s, %d modules requested)\n", out, spec.KernelVersion, len(spec.Modules))
			return nil
		},
	}
}

func initramfsSpec(c *cli.Context) (initramfs.Spec, error) {
	s := initramfs.Spec{Init: c.String("init")}
	mods, err := moduleFlags(c)
	if err != nil {
		return s, err
	}
	s.Modules, s.ModulesDir, s.KernelVersion = mods.names, mods.dir, mods.version
	s.Files, err = fileFlags(c)
	return s, err
}

// versionDir accepts lib/modules/VERSION itself, or its parent when that
// holds a single version, so the kernel command's OUT/modules works as is.
func versionDir(dir string) (string, error) {
	if _, err := os.Stat(filepath.Join(dir, "modules.dep")); err == nil {
		return filepath.Clean(dir), nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", fmt.Errorf("modules directory: %w", err)
	}
	var found []string
	for _, e := range entries {
		if _, err := os.Stat(filepath.Join(dir, e.Name(), "modules.dep")); e.IsDir() && err == nil {
			found = append(found, filepath.Join(dir, e.Name()))
		}
	}
	if len(found) != 1 {
		return "", fmt.Errorf("modules directory %s: want modules.dep in it or in exactly one subdirectory, found %d", dir, len(found))
	}
	return found[0], nil
}

// parseFileFlag parses SRC:DST[:MODE].
func parseFileFlag(v string) (initramfs.File, error) {
	parts := strings.Split(v, ":")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
		return initramfs.File{}, fmt.Errorf("--file %q: want SRC:DST[:MODE]", v)
	}
	f := initramfs.File{Src: parts[0], Dst: parts[1]}
	if len(parts) == 3 {
		m, err := strconv.ParseUint(parts[2], 8, 32)
		if err != nil || m > 0o7777 {
			return initramfs.File{}, fmt.Errorf("--file %q: mode %q is not an octal permission", v, parts[2])
		}
		f.Mode = os.FileMode(m & 0o777)
		if m&0o4000 != 0 {
			f.Mode |= os.ModeSetuid
		}
		if m&0o2000 != 0 {
			f.Mode |= os.ModeSetgid
		}
		if m&0o1000 != 0 {
			f.Mode |= os.ModeSticky
		}
	}
	return f, nil
}
