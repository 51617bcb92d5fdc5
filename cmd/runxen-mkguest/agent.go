package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/runxen/runxen/internal/debian/apt"
	"github.com/runxen/runxen/kernel/agentimage"
	"github.com/runxen/runxen/kernel/debpkg"
	"github.com/runxen/runxen/kernel/initramfs"
)

func agentInitramfsCommand() *cli.Command {
	return &cli.Command{
		Name:  "agent-initramfs",
		Usage: "build the guest agent's initramfs: the agent as /init, Debian's runc and its libraries, kernel modules",
		Description: "Fetches (or takes from --cache) the Debian packages " + strings.Join(agentimage.Packages, ", ") + ".\n" +
			"--test-extras also adds a busybox root file system at " + agentimage.BusyboxRoot + " and\n" +
			agentimage.VchanSocketProxy + " with its libraries, from " + strings.Join(agentimage.TestPackages, ", ") + ".\n" +
			"--compress auto picks zstd when the kernel's configuration (--kernel-config, or the config the kernel\n" +
			"command writes next to modules/) has CONFIG_RD_ZSTD=y, and gzip otherwise.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "agent", Usage: "static guest agent `BINARY`, the image's /init", Required: true},
			&cli.StringFlag{Name: "cache", Usage: "download cache `DIR`", Required: true},
			&cli.StringFlag{Name: "out", Usage: "output `FILE`", Required: true},
			&cli.BoolFlag{Name: "test-extras", Usage: "add the lab tests' busybox root file system and vchan-socket-proxy"},
			&cli.StringFlag{Name: "modules-dir", Usage: "lib/modules/VERSION `DIR`, or a directory holding exactly one VERSION (as written by the kernel command)"},
			&cli.StringFlag{Name: "kernel-version", Usage: "kernel `VERSION` (default: the name of the modules directory)"},
			&cli.StringFlag{Name: "modules", Usage: "comma-separated module `NAMES`, loaded in this order after their dependencies", Value: strings.Join(initramfs.DefaultModules, ",")},
			&cli.StringSliceFlag{Name: "file", Usage: "extra file `SRC:DST[:MODE]` (MODE in octal); repeatable"},
			&cli.StringFlag{Name: "compress", Usage: "`auto`, gzip or zstd", Value: "auto"},
			&cli.StringFlag{Name: "kernel-config", Usage: "the kernel's build configuration `FILE`, for --compress auto"},
			&cli.StringFlag{Name: "suite", Usage: "Debian suite", Value: debpkg.DefaultSuite},
			&cli.StringFlag{Name: "mirror", Usage: "Debian mirror `URL` (default: $RUNXEN_DEBIAN_MIRROR, then apt's)"},
		},
		Action: buildAgentInitramfs,
	}
}

// Tests stand in for apt-get, dpkg-deb and busybox through these.
var (
	fetchRunner   apt.Runner // nil runs the commands
	fetchKeyring  string     // empty means Debian's
	busyboxRunner apt.Runner // nil runs busybox
)

func buildAgentInitramfs(c *cli.Context) error {
	progress := func(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) }
	start := time.Now()
	mods, err := moduleFlags(c)
	if err != nil {
		return err
	}
	files, err := fileFlags(c)
	if err != nil {
		return err
	}
	compression, why, err := agentCompression(c, mods)
	if err != nil {
		return err
	}
	testExtras := c.Bool("test-extras")
	tree, err := debpkg.Fetch(c.Context, debpkg.Options{
		Packages: agentimage.PackagesFor(testExtras),
		Mirror:   c.String("mirror"),
		Suite:    c.String("suite"),
		CacheDir: c.String("cache"),
		Keyring:  fetchKeyring,
		Progress: progress,
		Runner:   fetchRunner,
	})
	if err != nil {
		return err
	}
	spec, err := agentimage.Spec(c.Context, agentimage.Options{
		Agent:         c.String("agent"),
		Tree:          tree.Root,
		KernelVersion: mods.version,
		ModulesDir:    mods.dir,
		Modules:       mods.names,
		Files:         files,
		TestExtras:    testExtras,
		Compression:   compression,
		Runner:        busyboxRunner,
	})
	if err != nil {
		return err
	}
	out := c.String("out")
	var st initramfs.Stats
	buildStart := time.Now()
	if err := writeAtomic(out, 0o644, func(w io.Writer) error {
		st, err = initramfs.Write(w, spec)
		return err
	}); err != nil {
		return err
	}
	fi, err := os.Stat(out)
	if err != nil {
		return err
	}
	progress("agent-initramfs: %s (%s) built in %s", out, why, time.Since(buildStart).Round(time.Millisecond))
	fmt.Printf("agent-initramfs: %s: %s %s, %s unpacked, %d entries (kernel %s, %d modules requested%s) in %s\n",
		out, compression, mib(fi.Size()), mib(st.Uncompressed), st.Entries, mods.version, len(mods.names),
		map[bool]string{true: ", test extras", false: ""}[testExtras], time.Since(start).Round(time.Millisecond))
	return nil
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

// moduleSelection is what the --modules-dir, --kernel-version and
// --modules flags chose.
type moduleSelection struct {
	flagDir string // --modules-dir as given
	dir     string // the lib/modules/VERSION directory
	version string
	names   []string
}

func moduleFlags(c *cli.Context) (moduleSelection, error) {
	m := moduleSelection{flagDir: c.String("modules-dir")}
	for _, n := range strings.Split(c.String("modules"), ",") {
		if n = strings.TrimSpace(n); n != "" {
			m.names = append(m.names, n)
		}
	}
	if len(m.names) == 0 {
		return m, nil
	}
	if m.flagDir == "" {
		return m, errors.New("--modules-dir is required when modules are requested")
	}
	dir, err := versionDir(m.flagDir)
	if err != nil {
		return m, err
	}
	m.dir = dir
	m.version = c.String("kernel-version")
	if m.version == "" {
		m.version = filepath.Base(dir)
	}
	return m, nil
}

func fileFlags(c *cli.Context) ([]initramfs.File, error) {
	var files []initramfs.File
	for _, f := range c.StringSlice("file") {
		file, err := parseFileFlag(f)
		if err != nil {
			return nil, err
		}
		files = append(files, file)
	}
	return files, nil
}

// agentCompression resolves --compress, saying why for the progress line.
func agentCompression(c *cli.Context, m moduleSelection) (initramfs.Compression, string, error) {
	if v := c.String("compress"); v != "auto" {
		comp, err := initramfs.ParseCompression(v)
		return comp, v + " as asked", err
	}
	config := c.String("kernel-config")
	if config == "" {
		config = findKernelConfig(m)
	}
	if config == "" {
		return initramfs.Gzip, "gzip: no kernel configuration found to tell whether the kernel unpacks zstd", nil
	}
	data, err := os.ReadFile(config)
	if err != nil {
		return "", "", fmt.Errorf("kernel configuration: %w", err)
	}
	comp, err := initramfs.ForKernelConfig(data)
	if err != nil {
		return "", "", fmt.Errorf("%s: %w", config, err)
	}
	return comp, fmt.Sprintf("%s, as the kernel configuration %s allows", comp, config), nil
}

// findKernelConfig looks where the kernel command and Debian put a kernel's
// configuration, relative to its modules: OUT/config next to OUT/modules,
// or boot/config-VERSION in an unpacked package or a root file system.
func findKernelConfig(m moduleSelection) string {
	if m.dir == "" {
		return ""
	}
	var candidates []string
	if m.flagDir != "" && filepath.Clean(m.flagDir) != m.dir {
		candidates = append(candidates, filepath.Join(filepath.Dir(filepath.Clean(m.flagDir)), "config"))
	}
	modules := filepath.Dir(m.dir) // .../lib/modules
	candidates = append(candidates,
		filepath.Join(filepath.Dir(modules), "config"),                        // OUT/modules/VERSION given
		filepath.Join(modules, "..", "..", "boot", "config-"+m.version),       // ROOT/lib/modules/VERSION
		filepath.Join(modules, "..", "..", "..", "boot", "config-"+m.version), // ROOT/usr/lib/modules/VERSION
	)
	for _, p := range candidates {
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			return filepath.Clean(p)
		}
	}
	return ""
}
