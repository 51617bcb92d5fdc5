package sysinit

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// fakeMounter records what MountBase would do.
type fakeMounter struct {
	before    map[string]bool // mounted before /proc is
	afterProc map[string]bool // what mountinfo shows once /proc is mounted
	procUp    bool
	busy      map[string]bool
	fail      map[string]error
	mkdirs    []string
	mounts    []string
}

func (f *fakeMounter) mkdirAll(p string) error { f.mkdirs = append(f.mkdirs, p); return nil }

func (f *fakeMounter) mount(m mountSpec) error {
	if err := f.fail[m.target]; err != nil {
		return err
	}
	if f.busy[m.target] {
		return errBusy
	}
	f.mounts = append(f.mounts, m.fstype+":"+m.target)
	if m.fstype == "proc" {
		f.procUp = true
	}
	return nil
}

func (f *fakeMounter) mounted() (map[string]bool, error) {
	if f.procUp {
		return f.afterProc, nil
	}
	return f.before, nil
}

var testMounts = []mountSpec{
	{"proc", "/proc", "proc", 0, ""},
	{"sysfs", "/sys", "sysfs", 0, ""},
	{"devtmpfs", "/dev", "devtmpfs", 0, "mode=0755"},
	{"devpts", "/dev/pts", "devpts", 0, "newinstance"},
}

func TestMountAll(t *testing.T) {
	tests := []struct {
		name       string
		f          fakeMounter
		wantMounts []string
		wantErr    string
	}{
		{
			name:       "fresh boot",
			f:          fakeMounter{},
			wantMounts: []string{"proc:/proc", "sysfs:/sys", "devtmpfs:/dev", "devpts:/dev/pts"},
		},
		{
			name:       "kernel already mounted /dev",
			f:          fakeMounter{afterProc: map[string]bool{"/proc": true, "/dev": true}},
			wantMounts: []string{"proc:/proc", "sysfs:/sys", "devpts:/dev/pts"},
		},
		{
			name:       "everything already there (second run)",
			f:          fakeMounter{before: map[string]bool{"/proc": true, "/sys": true, "/dev": true, "/dev/pts": true}, procUp: true, afterProc: map[string]bool{"/proc": true, "/sys": true, "/dev": true, "/dev/pts": true}},
			wantMounts: nil,
		},
		{
			name:       "busy target is fine",
			f:          fakeMounter{busy: map[string]bool{"/sys": true}},
			wantMounts: []string{"proc:/proc", "devtmpfs:/dev", "devpts:/dev/pts"},
		},
		{
			name:    "other errors name the mount",
			f:       fakeMounter{fail: map[string]error{"/dev/pts": errors.New("no such device")}},
			wantErr: "mount devpts on /dev/pts: no such device",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := mountAll(&tt.f, testMounts)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(tt.f.mounts, tt.wantMounts) {
				t.Errorf("mounts %q, want %q", tt.f.mounts, tt.wantMounts)
			}
			for _, m := range tt.f.mounts {
				target := m[strings.Index(m, ":")+1:]
				if !slices.Contains(tt.f.mkdirs, target) {
					t.Errorf("%s mounted without creating the mount point", target)
				}
			}
		})
	}
}
