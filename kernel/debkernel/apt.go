package debkernel

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// aptEnv is one private apt configuration rooted at dir. apt reads the file
// named by $APT_CONFIG before anything else, and that file redirects every
// other configuration source: -o options on the command line would come too
// late to stop apt from reading the host's apt.conf.d, whose hooks (cache
// cleaners, PackageKit and AppStream refreshes) must not run on behalf of a
// kernel download.
type aptEnv struct {
	dir  string
	conf string
}

// aptLayout lists the directories apt expects to exist; it creates some of
// them itself, but not consistently across versions.
var aptLayout = []string{
	"etc/apt.conf.d",
	"etc/sources.list.d",
	"etc/preferences.d",
	"state/lists/partial",
	"cache/archives/partial",
	"log",
}

// newAptEnv writes a private apt configuration under dir, which must exist.
// hostLines are extra apt.conf lines carried over from the host (proxies).
func newAptEnv(dir, mirror string, o Options, hostLines []string) (*aptEnv, error) {
	conf, err := aptConfig(dir, o, hostLines)
	if err != nil {
		return nil, err
	}
	list, err := sourcesList(mirror, o.Suite, o.Keyring)
	if err != nil {
		return nil, err
	}
	for _, d := range aptLayout {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return nil, fmt.Errorf("create apt directory: %w", err)
		}
	}
	a := &aptEnv{dir: dir, conf: filepath.Join(dir, "etc/apt.conf")}
	files := map[string]string{
		a.conf:                  conf,
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
	return a, nil
}

// aptConfig renders the private apt.conf. Every Dir:: path points inside dir;
// nothing under Debug:: is set, and the host's parts are never read, so
// debugging stays off whatever the host has configured.
func aptConfig(dir string, o Options, hostLines []string) (string, error) {
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
		// installed on the host would influence which kernel is chosen.
		{"Dir::State::status", p("state/status")},
		{"Dir::State::extended_states", p("state/extended_states")},
		{"Dir::Cache", p("cache")},
		{"Dir::Log", p("log")},
		{"APT::Architecture", o.Arch},
		// As root apt drops to _apt for downloads, and _apt may not be able
		// to reach a cache under the invoking user's home directory.
		{"APT::Sandbox::User", "root"},
		{"Acquire::Languages", "none"},
	}
	var b strings.Builder
	b.WriteString("// Private apt configuration for one runxen kernel download.\n")
	for _, s := range settings {
		if err := checkConfValue(s.value); err != nil {
			return "", fmt.Errorf("apt setting %s: %w", s.key, err)
		}
		fmt.Fprintf(&b, "%s \"%s\";\n", s.key, s.value)
	}
	fmt.Fprintf(&b, "APT::Architectures { \"%s\"; };\n", o.Arch)
	for _, l := range hostLines {
		b.WriteString(l + "\n")
	}
	return b.String(), nil
}

// sourcesList is the one-line source list naming only the kernel's suite.
func sourcesList(mirror, suite, keyring string) (string, error) {
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

func (a *aptEnv) cmd(name string, args ...string) Cmd {
	return Cmd{Name: name, Args: args, Env: []string{"APT_CONFIG=" + a.conf}}
}

func (a *aptEnv) update() Cmd { return a.cmd("apt-get", "-q", "update") }

func (a *aptEnv) show(pkg string) Cmd {
	return a.cmd("apt-cache", "show", "--no-all-versions", pkg)
}

// download fetches pkg's candidate .deb into dir: apt-get download writes to
// the working directory, which keeps the .deb out of apt's own cache.
func (a *aptEnv) download(pkg, dir string) Cmd {
	c := a.cmd("apt-get", "-q", "download", pkg)
	c.Dir = dir
	return c
}

func extractCmd(deb, dest string) Cmd {
	return Cmd{Name: "dpkg-deb", Args: []string{"--extract", deb, dest}}
}

// hostProxyCmd asks the host's apt for its Acquire settings. It runs with the
// caller's environment, so an APT_CONFIG the user set is honoured.
func hostProxyCmd() Cmd { return Cmd{Name: "apt-config", Args: []string{"dump", "Acquire"}} }

// proxyLines keeps the proxy settings from `apt-config dump` output: a host
// that can only reach its mirror through a proxy configured for apt needs
// the same proxy here. The dump is already in apt.conf syntax.
func proxyLines(dump []byte) []string {
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
