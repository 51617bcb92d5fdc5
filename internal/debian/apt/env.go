package apt

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/containerd/log"
)

// DefaultKeyring verifies Debian's archive. Debian's keyring on one release
// carries the keys of the next, so a bookworm host verifies trixie.
const DefaultKeyring = "/usr/share/keyrings/debian-archive-keyring.gpg"

// Config says which archive a private apt configuration uses.
type Config struct {
	Mirror  string // archive URL
	Suite   string // e.g. trixie
	Arch    string // Debian architecture, e.g. amd64
	Keyring string // keyring that signs the suite
}

// Env is one private apt configuration rooted at a directory. apt reads
// the file named by $APT_CONFIG before anything else, and that file
// redirects every other configuration source: -o options on the command
// line would come too late to stop apt from reading the host's apt.conf.d,
// whose hooks (cache cleaners, PackageKit and AppStream refreshes) must not
// run on behalf of a runxen download.
type Env struct {
	Dir  string // the configuration's root
	Conf string // the file $APT_CONFIG names
}

// Layout lists the directories apt expects to exist under Env.Dir; it
// creates some of them itself, but not consistently across versions.
var Layout = []string{
	"etc/apt.conf.d",
	"etc/sources.list.d",
	"etc/preferences.d",
	"state/lists/partial",
	"cache/archives/partial",
	"log",
}

// Prepare writes a private apt configuration for c under dir, which must
// exist, carrying over the host's proxy settings (read with r).
func Prepare(ctx context.Context, r Runner, dir string, c Config) (*Env, error) {
	dump, err := r.Run(ctx, HostProxyCmd())
	if err != nil {
		// Only proxies come from the host; a host without apt-config can
		// still download directly.
		log.G(ctx).WithError(err).Warn("cannot read host apt proxy settings")
	}
	return NewEnv(dir, c, ProxyLines(dump))
}

// NewEnv writes a private apt configuration for c under dir, which must
// exist. hostLines are extra apt.conf lines carried over from the host
// (proxies).
func NewEnv(dir string, c Config, hostLines []string) (*Env, error) {
	if _, err := os.Stat(c.Keyring); err != nil {
		return nil, fmt.Errorf("archive keyring (install debian-archive-keyring): %w", err)
	}
	conf, err := Conf(dir, c.Arch, hostLines)
	if err != nil {
		return nil, err
	}
	list, err := SourcesList(c.Mirror, c.Suite, c.Keyring)
	if err != nil {
		return nil, err
	}
	for _, d := range Layout {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return nil, fmt.Errorf("create apt directory: %w", err)
		}
	}
	e := &Env{Dir: dir, Conf: filepath.Join(dir, "etc/apt.conf")}
	files := map[string]string{
		e.Conf:                  conf,
		"etc/empty.conf":        "",
		"etc/sources.list":      list,
		"etc/preferences":       "",
		"state/status":          "",
		"state/extended_states": "",
	}
	for name, content := range files {
		if !filepath.IsAbs(name) {
			name = filepath.Join(dir, name)
		}
		if err := os.WriteFile(name, []byte(content), 0o644); err != nil {
			return nil, fmt.Errorf("write apt configuration: %w", err)
		}
	}
	return e, nil
}

// Conf renders the private apt.conf. Every Dir:: path points inside dir;
// nothing under Debug:: is set, and the host's parts are never read, so
// debugging stays off whatever the host has configured.
func Conf(dir, arch string, hostLines []string) (string, error) {
	p := func(rel string) string { return filepath.Join(dir, rel) }
	settings := []struct{ key, value string }{
		{"Dir::Etc::main", p("etc/empty.conf")},
		{"Dir::Etc::parts", p("etc/apt.conf.d")},
		{"Dir::Etc::sourcelist", p("etc/sources.list")},
		{"Dir::Etc::sourceparts", p("etc/sources.list.d")},
		{"Dir::Etc::preferences", p("etc/preferences")},
		{"Dir::Etc::preferencesparts", p("etc/preferences.d")},
		{"Dir::State", p("state")},
		// Otherwise apt reads the host's dpkg status, and the packages
		// installed on the host would influence which versions are chosen.
		{"Dir::State::status", p("state/status")},
		{"Dir::State::extended_states", p("state/extended_states")},
		{"Dir::Cache", p("cache")},
		{"Dir::Log", p("log")},
		{"APT::Architecture", arch},
		// As root apt drops to _apt for downloads, and _apt may not be able
		// to reach a cache under the invoking user's home directory.
		{"APT::Sandbox::User", "root"},
		{"Acquire::Languages", "none"},
	}
	var b strings.Builder
	b.WriteString("// Private apt configuration for one runxen download.\n")
	for _, s := range settings {
		if err := checkConfValue(s.value); err != nil {
			return "", fmt.Errorf("apt setting %s: %w", s.key, err)
		}
		fmt.Fprintf(&b, "%s \"%s\";\n", s.key, s.value)
	}
	fmt.Fprintf(&b, "APT::Architectures { \"%s\"; };\n", arch)
	for _, l := range hostLines {
		b.WriteString(l + "\n")
	}
	return b.String(), nil
}

// SourcesList is the one-line source list naming only suite's main
// component.
func SourcesList(mirror, suite, keyring string) (string, error) {
	for _, v := range []string{mirror, suite, keyring} {
		if v == "" || strings.ContainsAny(v, " \t\n\"[]#") {
			return "", fmt.Errorf("unusable value %q in apt source list", v)
		}
	}
	return fmt.Sprintf("deb [signed-by=%s] %s %s main\n", keyring, mirror, suite), nil
}

func checkConfValue(v string) error {
	if v == "" || strings.ContainsAny(v, "\"\n") {
		return fmt.Errorf("unusable value %q", v)
	}
	return nil
}

// packageName is Debian policy's package name syntax (5.6.1). Checking it
// also keeps a name from being taken for an option.
var packageName = regexp.MustCompile(`^[a-z0-9][a-z0-9+.-]+$`)

// CheckPackageName reports whether name can be a Debian package name.
func CheckPackageName(name string) error {
	if !packageName.MatchString(name) {
		return fmt.Errorf("%q is not a Debian package name", name)
	}
	return nil
}

func (e *Env) cmd(name string, args ...string) Cmd {
	return Cmd{Name: name, Args: args, Env: []string{"APT_CONFIG=" + e.Conf}}
}

// Update downloads the suite's package indexes.
func (e *Env) Update() Cmd { return e.cmd("apt-get", "-q", "update") }

// Show prints pkg's candidate control stanza.
func (e *Env) Show(pkg string) Cmd {
	return e.cmd("apt-cache", "show", "--no-all-versions", pkg)
}

// Download fetches the candidate .deb of each package into dir: apt-get
// download writes to the working directory, which keeps the .debs out of
// apt's own cache. It resolves no dependencies.
func (e *Env) Download(dir string, pkgs ...string) Cmd {
	c := e.cmd("apt-get", append([]string{"-q", "download"}, pkgs...)...)
	c.Dir = dir
	return c
}

// Extract unpacks a .deb's data into dest, as dpkg would install it but
// without running any maintainer script.
func Extract(deb, dest string) Cmd {
	return Cmd{Name: "dpkg-deb", Args: []string{"--extract", deb, dest}}
}

// HostProxyCmd asks the host's apt for its Acquire settings. It runs with
// the caller's environment, so an APT_CONFIG the user set is honoured.
func HostProxyCmd() Cmd { return Cmd{Name: "apt-config", Args: []string{"dump", "Acquire"}} }

// ProxyLines keeps the proxy settings from `apt-config dump` output: a host
// that can only reach its mirror through a proxy configured for apt needs
// the same proxy here. The dump is already in apt.conf syntax.
func ProxyLines(dump []byte) []string {
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(dump))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		key, _, _ := strings.Cut(line, " ")
		if !strings.HasPrefix(key, "Acquire::") || !strings.HasSuffix(line, ";") {
			continue
		}
		for _, seg := range strings.Split(key, "::") {
			if strings.EqualFold(seg, "Proxy") || strings.EqualFold(seg, "Proxy-Auto-Detect") {
				lines = append(lines, line)
				break
			}
		}
	}
	return lines
}

// DebFile finds the .deb that `apt-get download pkg` wrote into dir. Package
// names cannot contain '_', so pkg_*.deb matches pkg's file only.
func DebFile(dir, pkg string) (string, error) {
	debs, _ := filepath.Glob(filepath.Join(dir, pkg+"_*.deb"))
	if len(debs) != 1 {
		return "", fmt.Errorf("apt-get download %s: want one .deb, found %d", pkg, len(debs))
	}
	return debs[0], nil
}

// DebVersion returns the version in a .deb file name as apt-get download
// writes it (NAME_VERSION_ARCH.deb, with an epoch's ':' escaped as %3a).
func DebVersion(file string) (string, error) {
	parts := strings.Split(strings.TrimSuffix(filepath.Base(file), ".deb"), "_")
	if len(parts) != 3 || parts[1] == "" {
		return "", errors.New("unexpected .deb file name " + filepath.Base(file))
	}
	return strings.ReplaceAll(parts[1], "%3a", ":"), nil
}
