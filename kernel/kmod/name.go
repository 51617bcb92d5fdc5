package kmod

import (
	"path"
	"strings"
)

// compressionSuffixes are the module compressions the kernel build can
// produce (CONFIG_MODULE_COMPRESS_*).
var compressionSuffixes = []string{".xz", ".zst", ".gz"}

// Name is the canonical name of a module: the kernel treats '-' and '_' in
// module names as the same character and reports them with '_'.
func Name(s string) string {
	return strings.ReplaceAll(s, "-", "_")
}

// NameFromPath returns the canonical module name of a module file path, and
// false if the path is not a kernel module.
func NameFromPath(p string) (string, bool) {
	base := StripCompression(path.Base(p))
	name, ok := strings.CutSuffix(base, ".ko")
	if !ok || name == "" {
		return "", false
	}
	return Name(name), true
}

// StripCompression removes a compression suffix, turning foo.ko.xz into
// foo.ko; other names are returned unchanged.
func StripCompression(p string) string {
	for _, s := range compressionSuffixes {
		if base, ok := strings.CutSuffix(p, ".ko"+s); ok {
			return base + ".ko"
		}
	}
	return p
}
