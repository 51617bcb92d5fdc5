package kmod

import (
	"bytes"
	"debug/elf"
	"fmt"
	"strings"
)

// ModInfo is a module's .modinfo section: key=value strings such as
// "depends=jbd2,mbcache" or "alias=fs-ext4". Keys may repeat.
type ModInfo map[string][]string

// ReadModInfo extracts the .modinfo section from an uncompressed module.
func ReadModInfo(module []byte) (ModInfo, error) {
	f, err := elf.NewFile(bytes.NewReader(module))
	if err != nil {
		return nil, fmt.Errorf("parse module ELF: %w", err)
	}
	defer f.Close()
	sec := f.Section(".modinfo")
	if sec == nil {
		return nil, fmt.Errorf("module has no .modinfo section")
	}
	data, err := sec.Data()
	if err != nil {
		return nil, fmt.Errorf("read .modinfo: %w", err)
	}
	return ParseModInfo(data), nil
}

// ParseModInfo splits a .modinfo section: NUL-separated key=value strings,
// with NUL padding between them. Strings without '=' are ignored, as modinfo
// does.
func ParseModInfo(section []byte) ModInfo {
	info := ModInfo{}
	for _, s := range bytes.Split(section, []byte{0}) {
		k, v, ok := strings.Cut(string(s), "=")
		if ok && k != "" {
			info[k] = append(info[k], v)
		}
	}
	return info
}

// Depends returns the canonical names of the modules this one needs, as
// recorded by modpost at build time.
func (m ModInfo) Depends() []string {
	var names []string
	for _, v := range m["depends"] {
		for _, n := range strings.Split(v, ",") {
			if n = strings.TrimSpace(n); n != "" {
				names = append(names, Name(n))
			}
		}
	}
	return names
}
