package debkernel

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestAptConfig(t *testing.T) {
	o, err := Options{CacheDir: "/unused"}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	conf, err := aptConfig("/w", o, []string{`Acquire::http::Proxy "http://proxy.example";`})
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
	if _, err := aptConfig(`/w"x`, o, nil); err == nil {
		t.Error("want an error for a quote in a path")
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
		got, err := sourcesList(tt.mirror, tt.suite, tt.keyring)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("sourcesList(%q, %q, %q) = %q, %v", tt.mirror, tt.suite, tt.keyring, got, err)
		}
	}
}

func TestNewAptEnvLayout(t *testing.T) {
	dir := t.TempDir()
	o, _ := Options{CacheDir: "/unused"}.withDefaults()
	a, err := newAptEnv(dir, "http://mirror.example/debian", o, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range append(aptLayout, "etc/sources.list.d", "state/status", "etc/apt.conf") {
		if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
			t.Errorf("missing %s: %v", p, err)
		}
	}
	parts, _ := os.ReadDir(filepath.Join(dir, "etc/sources.list.d"))
	if len(parts) != 0 {
		t.Errorf("sources.list.d must stay empty, has %v", parts)
	}
	if a.conf != filepath.Join(dir, "etc/apt.conf") {
		t.Errorf("conf = %s", a.conf)
	}
}

func TestCommands(t *testing.T) {
	a := &aptEnv{dir: "/w", conf: "/w/etc/apt.conf"}
	env := []string{"APT_CONFIG=/w/etc/apt.conf"}
	tests := []struct {
		name string
		got  Cmd
		want Cmd
	}{
		{"update", a.update(), Cmd{Name: "apt-get", Args: []string{"-q", "update"}, Env: env}},
		{"show", a.show("linux-image-amd64"), Cmd{Name: "apt-cache", Args: []string{"show", "--no-all-versions", "linux-image-amd64"}, Env: env}},
		{"download", a.download("linux-image-6.12.1-amd64", "/c/k"), Cmd{Name: "apt-get", Args: []string{"-q", "download", "linux-image-6.12.1-amd64"}, Env: env, Dir: "/c/k"}},
		{"extract", extractCmd("/c/k/x.deb", "/c/k/root"), Cmd{Name: "dpkg-deb", Args: []string{"--extract", "/c/k/x.deb", "/c/k/root"}}},
		{"host proxies", hostProxyCmd(), Cmd{Name: "apt-config", Args: []string{"dump", "Acquire"}}},
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
			if got := proxyLines([]byte(tt.dump)); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
