package initramfs

import (
	"bufio"
	"bytes"
	"errors"
	"strings"
)

// ForKernelConfig returns the compression to use for a kernel built with
// config (the text of its .config, as Debian ships in /boot/config-*):
// zstd if the kernel can unpack it (CONFIG_RD_ZSTD=y), as it is smaller and
// faster to unpack than gzip, else gzip (CONFIG_RD_GZIP=y).
func ForKernelConfig(config []byte) (Compression, error) {
	set := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(config))
	for sc.Scan() {
		if name, ok := strings.CutSuffix(strings.TrimSpace(sc.Text()), "=y"); ok {
			set[name] = true
		}
	}
	if err := sc.Err(); err != nil {
		return "", err
	}
	if !set["CONFIG_BLK_DEV_INITRD"] {
		return "", errors.New("kernel config: CONFIG_BLK_DEV_INITRD is not set; the kernel cannot boot an initramfs")
	}
	switch {
	case set["CONFIG_RD_ZSTD"]:
		return Zstd, nil
	case set["CONFIG_RD_GZIP"]:
		return Gzip, nil
	}
	return "", errors.New("kernel config: neither CONFIG_RD_ZSTD nor CONFIG_RD_GZIP is set")
}
