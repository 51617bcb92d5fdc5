package debian

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// writeTree creates files (path relative to dir -> content) under dir.
func writeTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

const security822 = `Types: deb
URIs: http://security.example/debian-security
Suites: bookworm-security
Components: main
`

func TestMirrorFromConfig(t *testing.T) {
	tests := []struct {
		name    string
		files   map[string]string
		want    string
		wantErr error
	}{
		{
			name: "deb822 skips security",
			files: map[string]string{"sources.list.d/debian.sources": security822 + `
Types: deb
URIs: http://mirror.example/debian/
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
`},
			want: "http://mirror.example/debian",
		},
		{
			name: "security by URI suffix even with a normal suite",
			files: map[string]string{"sources.list.d/a.sources": `Types: deb
URIs: http://mirror.example/debian-security
Suites: bookworm
Components: main
`},
			wantErr: ErrNoMirror,
		},
		{
			name: "third-party repositories are not Debian",
			files: map[string]string{
				"sources.list.d/a-node.sources": "Types: deb\nURIs: https://node.example/node_20.x\nSuites: nodistro\nComponents: main\n",
				"sources.list.d/b-docker.list":  "deb https://docker.example/linux/debian bookworm stable\n",
				"sources.list":                  "deb http://fallback.example/debian trixie main\n",
			},
			want: "http://fallback.example/debian",
		},
		{
			name: "deb822 wins over sources.list",
			files: map[string]string{
				"sources.list.d/debian.sources": "Types: deb\nURIs: http://first.example/debian\nSuites: trixie\nComponents: main\n",
				"sources.list":                  "deb http://second.example/debian trixie main\n",
			},
			want: "http://first.example/debian",
		},
		{
			name: "disabled and deb-src entries skipped",
			files: map[string]string{
				"sources.list.d/x.sources": "Types: deb\nURIs: http://off.example/debian\nSuites: trixie\nComponents: main\nEnabled: no\n\nTypes: deb-src\nURIs: http://src.example/debian\nSuites: trixie\nComponents: main\n",
				"sources.list":             "deb cdrom:[Debian]/ bookworm main\ndeb http://on.example/debian bookworm main\n",
			},
			want: "http://on.example/debian",
		},
		{
			name:    "nothing configured",
			files:   map[string]string{},
			wantErr: ErrNoMirror,
		},
		{
			name:    "malformed file is reported",
			files:   map[string]string{"sources.list": "deb\n"},
			wantErr: errAny,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeTree(t, dir, tt.files)
			got, err := MirrorFromConfig(dir)
			switch {
			case tt.wantErr == errAny:
				if err == nil {
					t.Fatalf("want an error, got %q", got)
				}
				return
			case !errors.Is(err, tt.wantErr):
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

var errAny = errors.New("any error")

func TestMirrorEnvWins(t *testing.T) {
	tests := []struct {
		env     string
		want    string
		wantErr bool
	}{
		{env: "http://env.example/debian/", want: "http://env.example/debian"},
		{env: "  https://env.example/debian  ", want: "https://env.example/debian"},
		{env: "env.example/debian", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.env, func(t *testing.T) {
			t.Setenv(EnvMirror, tt.env)
			got, err := Mirror()
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
