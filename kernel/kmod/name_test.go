package kmod

import "testing"

func TestNameFromPath(t *testing.T) {
	tests := []struct {
		path string
		name string
		ok   bool
	}{
		{"kernel/drivers/block/xen-blkfront.ko.xz", "xen_blkfront", true},
		{"kernel/net/9p/9pnet_xen.ko.zst", "9pnet_xen", true},
		{"kernel/fs/ext4/ext4.ko.gz", "ext4", true},
		{"kernel/fs/overlayfs/overlay.ko", "overlay", true},
		{"kernel/fs/ext4/ext4.ko.bz2", "", false},
		{"modules.dep", "", false},
		{".ko", "", false},
	}
	for _, tt := range tests {
		name, ok := NameFromPath(tt.path)
		if name != tt.name || ok != tt.ok {
			t.Errorf("NameFromPath(%q) = %q, %v; want %q, %v", tt.path, name, ok, tt.name, tt.ok)
		}
	}
}

func TestStripCompression(t *testing.T) {
	tests := map[string]string{
		"a/b.ko.xz":  "a/b.ko",
		"a/b.ko.zst": "a/b.ko",
		"a/b.ko.gz":  "a/b.ko",
		"a/b.ko":     "a/b.ko",
		"a/b.xz":     "a/b.xz",
	}
	for in, want := range tests {
		if got := StripCompression(in); got != want {
			t.Errorf("StripCompression(%q) = %q, want %q", in, got, want)
		}
	}
}
