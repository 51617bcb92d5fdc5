package plugin

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/runxen/runxen/runtime/config"
)

func TestSettings(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "runxen.toml")
	if err := os.WriteFile(file, []byte("[guest]\nmemory_mib = 256\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv(config.EnvPath, filepath.Join(dir, "absent.toml"))
	for _, tc := range []struct {
		name    string
		path    string
		body    string
		wantMiB int
		wantErr bool
	}{
		{name: "the options' file", path: file, wantMiB: 256},
		{name: "the options' inline body", body: "[guest]\nmemory_mib = 300\n", wantMiB: 300},
		{name: "the file wins over the body", path: file, body: "[guest]\nmemory_mib = 300\n", wantMiB: 256},
		{name: "a bad body", body: "[guest]\nmemory = 1\n", wantErr: true},
		{name: "a missing file named", path: filepath.Join(dir, "nope.toml"), wantErr: true},
		{name: "RUNXEN_CONFIG names a missing file", wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := settings(tc.path, []byte(tc.body))
			if tc.wantErr {
				if err == nil {
					t.Errorf("accepted: %+v", c.Guest)
				}
				return
			}
			if err != nil || c.Guest.MemoryMiB != tc.wantMiB {
				t.Errorf("memory %d, %v; want %d", c.Guest.MemoryMiB, err, tc.wantMiB)
			}
		})
	}
}
