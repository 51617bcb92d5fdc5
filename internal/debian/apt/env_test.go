package apt

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestConf(t *testing.T) {
	conf, err := Conf("/w", "amd64", []string{`Acquire::http::Proxy "http://proxy.example";`})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`Dir::Etc::main "/w/etc/empty.conf";`,
		`Dir::Etc::parts "/w/etc/apt.conf.d";`,
		`Dir::Etc::sourcelist "/w/etc/sources.list";`,
		`Dir::Etc::sourceparts "/w/etc/sources.list.d";`,
		`Dir::Etc::preferences "/w/etc/preferences";`,
		`Dir::Etc::preferencesparts "/w/etc/preferences.d";`,
		`Dir::State "/w/state";`,
		`Dir::State::status "/w/state/status";`,
		`Dir::Cache "/w/cache";`,
		`APT::Architecture "amd64";`,
		`APT::Architectures { "amd64"; };`,
		`APT::Sandbox::User "root";`,
		`Acquire::http::Proxy "http://proxy.example";`,
	} {
		if !strings.Contains(conf, want+"\n") {
			t.Errorf("config lacks %s:\n%s", want, conf)
		}
	}
	if strings.Contains(conf, "Debug::") {
		t.Errorf("config enables debugging:\n%s", conf)
	}
	if _, err := Conf(`/w"x`, "amd64", nil); err == nil {
		t.Error("want an error for a quote in a path")
	}
	if _, err := Conf("/w", "", nil); err == nil {
		t.Error("want an error for an empty architecture")
	}
}

func TestSourcesList(t *testing.T) {
	tests := []struct {
		mirror, suite, keyring string
		want                   string
		wantErr                bool
	}{
		{"http://mirror.example/debian", "trixie", "/k.gpg", "deb [signed-by=/k.gpg] http://mirror.example/debian trixie main\n", false},
		{"", "trixie", "/k.gpg", "", true},
		{"http://mirror.example/debian", "tri xie", "/k.gpg", "", true},
		{"http://mirror.example/debian", "trixie", "/k]x.gpg", "", true},
	}
	for _, tt := range tests {
		got, err := SourcesList(tt.mirror, tt.suite, tt.keyring)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("SourcesList(%q, %q, %q) = %q, %v", tt.mirror, tt.suite, tt.keyring, got, err)
		}
	}
}

func testConfig(t *testing.T) Config {
	keyring := filepath.Join(t.TempDir(), "keyring.gpg")
	if err := os.WriteFile(keyring, []byte("key"), 0o644); err != nil {
		t.Fatal(err)
	}
	return Config{Mirror: "http://mirror.example/debian", Suite: "trixie", Arch: "amd64", Keyring: keyring}
}

func TestNewEnvLayout(t *testing.T) {
	dir := t.TempDir()
	e, err := NewEnv(dir, testConfig(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range append(Layout, "etc/sources.list.d", "state/status", "etc/apt.conf") {
		if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
			t.Errorf("missing %s: %v", p, err)
		}
	}
	parts, _ := os.ReadDir(filepath.Join(dir, "etc/sources.list.d"))
	if len(parts) != 0 {
		t.Errorf("sources.list.d must stay empty, has %v", parts)
	}
	if e.Conf != filepath.Join(dir, "etc/apt.conf") || e.Dir != dir {
		t.Errorf("env = %+v", e)
	}
}

func TestNewEnvNeedsKeyring(t *testing.T) {
	c := testConfig(t)
	c.Keyring = filepath.Join(t.TempDir(), "missing.gpg")
	if _, err := NewEnv(t.TempDir(), c, nil); err == nil || !strings.Contains(err.Error(), "debian-archive-keyring") {
		t.Errorf("err = %v, want a hint to install the keyring", err)
	}
}

type dumpRunner struct {
	out []byte
	err error
}

func (r dumpRunner) Run(context.Context, Cmd) ([]byte, error) { return r.out, r.err }

func TestPrepare(t *testing.T) {
	tests := []struct {
		name   string
		runner Runner
		want   string
	}{
		{"proxy carried over", dumpRunner{out: []byte("Acquire::http::Proxy \"http://p.example:3128\";\n")}, `Acquire::http::Proxy "http://p.example:3128";`},
		{"no apt-config", dumpRunner{err: errors.New("not found")}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := Prepare(context.Background(), tt.runner, t.TempDir(), testConfig(t))
			if err != nil {
				t.Fatal(err)
			}
			conf, _ := os.ReadFile(e.Conf)
			if strings.Contains(string(conf), "Proxy") != (tt.want != "") || !strings.Contains(string(conf), tt.want) {
				t.Errorf("config:\n%s\nwant %q", conf, tt.want)
			}
		})
	}
}

func TestCommands(t *testing.T) {
	e := &Env{Dir: "/w", Conf: "/w/etc/apt.conf"}
	env := []string{"APT_CONFIG=/w/etc/apt.conf"}
	tests := []struct {
		name string
		got  Cmd
		want Cmd
	}{
		{"update", e.Update(), Cmd{Name: "apt-get", Args: []string{"-q", "update"}, Env: env}},
		{"show", e.Show("linux-image-amd64"), Cmd{Name: "apt-cache", Args: []string{"show", "--no-all-versions", "linux-image-amd64"}, Env: env}},
		{"download", e.Download("/c/k", "linux-image-6.12.1-amd64"), Cmd{Name: "apt-get", Args: []string{"-q", "download", "linux-image-6.12.1-amd64"}, Env: env, Dir: "/c/k"}},
		{"download several", e.Download("/c/p", "libc6", "runc"), Cmd{Name: "apt-get", Args: []string{"-q", "download", "libc6", "runc"}, Env: env, Dir: "/c/p"}},
		{"extract", Extract("/c/k/x.deb", "/c/k/root"), Cmd{Name: "dpkg-deb", Args: []string{"--extract", "/c/k/x.deb", "/c/k/root"}}},
		{"host proxies", HostProxyCmd(), Cmd{Name: "apt-config", Args: []string{"dump", "Acquire"}}},
	}
	for _, tt := range tests {
		if !reflect.DeepEqual(tt.got, tt.want) {
			t.Errorf("%s: got %#v, want %#v", tt.name, tt.got, tt.want)
		}
	}
}

func TestProxyLines(t *testing.T) {
	tests := []struct {
		name string
		dump string
		want []string
	}{
		{"none", "Acquire::Languages \"none\";\nAcquire::Retries \"3\";\n", nil},
		{
			"http, https and per-host",
			"Acquire::http::Proxy \"http://p.example:3128\";\nAcquire::https::proxy \"http://p.example:3128\";\nAcquire::http::Proxy::local.example \"DIRECT\";\nAcquire::http::Proxy-Auto-Detect \"/usr/bin/detect\";\n",
			[]string{
				`Acquire::http::Proxy "http://p.example:3128";`,
				`Acquire::https::proxy "http://p.example:3128";`,
				`Acquire::http::Proxy::local.example "DIRECT";`,
				`Acquire::http::Proxy-Auto-Detect "/usr/bin/detect";`,
			},
		},
		{"not Acquire", "APT::Proxy \"x\";\n", nil},
		{"truncated line", "Acquire::http::Proxy \"x\"\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ProxyLines([]byte(tt.dump)); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestCheckPackageName(t *testing.T) {
	for name, ok := range map[string]bool{
		"libc6": true, "xen-utils-4.20": true, "libstdc++6": true, "busybox-static": true,
		"": false, "a": false, "-o": false, "Runc": false, "runc=1.0": false, "runc:amd64": false,
		"runc/trixie": false, "a b": false, "pkg_1": false,
	} {
		if err := CheckPackageName(name); (err == nil) != ok {
			t.Errorf("CheckPackageName(%q) = %v", name, err)
		}
	}
}

func TestDebFileAndVersion(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"busybox-static_1%3a1.37.0-6+b9_amd64.deb", "busybox_1%3a1.37.0-6_amd64.deb", "runc_1.1.15+ds1-2+b4_amd64.deb"} {
		if err := os.WriteFile(filepath.Join(dir, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		pkg, version string
		wantErr      bool
	}{
		{"busybox-static", "1:1.37.0-6+b9", false},
		{"busybox", "1:1.37.0-6", false},
		{"runc", "1.1.15+ds1-2+b4", false},
		{"libc6", "", true},
	}
	for _, tt := range tests {
		deb, err := DebFile(dir, tt.pkg)
		if (err != nil) != tt.wantErr {
			t.Errorf("DebFile(%q) = %q, %v", tt.pkg, deb, err)
			continue
		}
		if err != nil {
			continue
		}
		if v, err := DebVersion(deb); err != nil || v != tt.version {
			t.Errorf("DebVersion(%q) = %q, %v; want %q", deb, v, err, tt.version)
		}
	}
	if _, err := DebVersion("/x/odd.deb"); err == nil {
		t.Error("want an error for a name without version")
	}
}
