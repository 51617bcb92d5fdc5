package debkernel

import (
	"os"
	"path/filepath"
	"testing"
)

func TestLocate(t *testing.T) {
	tests := []struct {
		name    string
		files   []string
		version string
		wantErr bool
	}{
		{"lib/modules", []string{"boot/vmlinuz-6.12.1-amd64", "lib/modules/6.12.1-amd64/modules.dep"}, "6.12.1-amd64", false},
		{"usr/lib/modules", []string{"boot/vmlinuz-6.12.1-amd64", "usr/lib/modules/6.12.1-amd64/modules.dep"}, "6.12.1-amd64", false},
		{"no kernel", []string{"lib/modules/6.12.1-amd64/modules.dep"}, "", true},
		{"two kernels", []string{"boot/vmlinuz-a", "boot/vmlinuz-b", "lib/modules/a/x"}, "", true},
		{"no modules", []string{"boot/vmlinuz-6.12.1-amd64", "lib/modules/other/x"}, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			for _, f := range tt.files {
				p := filepath.Join(root, f)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, nil, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			version, vmlinuz, modules, err := locate(root)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v", err)
			}
			if tt.wantErr {
				return
			}
			if version != tt.version || filepath.Base(vmlinuz) != "vmlinuz-"+version || filepath.Base(modules) != version {
				t.Errorf("got %q %q %q", version, vmlinuz, modules)
			}
		})
	}
}
