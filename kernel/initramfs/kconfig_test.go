package initramfs

import (
	"strings"
	"testing"
)

func TestForKernelConfig(t *testing.T) {
	tests := []struct {
		name    string
		config  string
		want    Compression
		wantErr string
	}{
		{"debian", "CONFIG_BLK_DEV_INITRD=y\nCONFIG_RD_GZIP=y\nCONFIG_RD_BZIP2=y\nCONFIG_RD_XZ=y\nCONFIG_RD_ZSTD=y\n", Zstd, ""},
		{"gzip only", "CONFIG_BLK_DEV_INITRD=y\nCONFIG_RD_GZIP=y\n# CONFIG_RD_ZSTD is not set\n", Gzip, ""},
		{"zstd as module is not enough", "CONFIG_BLK_DEV_INITRD=y\nCONFIG_RD_GZIP=y\nCONFIG_RD_ZSTD=m\n", Gzip, ""},
		{"no decompressor", "CONFIG_BLK_DEV_INITRD=y\nCONFIG_RD_XZ=y\n", "", "neither"},
		{"no initrd", "CONFIG_RD_GZIP=y\n", "", "CONFIG_BLK_DEV_INITRD"},
		{"prefix is not a match", "CONFIG_BLK_DEV_INITRD=y\nCONFIG_RD_GZIP=y\nCONFIG_RD_ZSTD_X=y\n", Gzip, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ForKernelConfig([]byte(tt.config))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}
