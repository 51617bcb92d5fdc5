package debkernel

import (
	"bufio"
	"bytes"
	"fmt"
	"strings"
)

// controlStanza parses the first stanza of Debian control data, as printed by
// apt-cache show. Field names are case-insensitive and returned lower-cased;
// continuation lines are joined with newlines.
func controlStanza(data []byte) (map[string]string, error) {
	fields := map[string]string{}
	last := ""
	sc := bufio.NewScanner(bytes.NewReader(data))
	// Description fields are long paragraphs, but single lines stay short;
	// the limit only guards against garbage.
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case strings.TrimSpace(line) == "":
			if len(fields) > 0 {
				return fields, nil
			}
		case line[0] == ' ' || line[0] == '\t':
			if last == "" {
				return nil, fmt.Errorf("control line %d: continuation outside a field", n)
			}
			fields[last] += "\n" + strings.TrimSpace(line)
		default:
			name, value, ok := strings.Cut(line, ":")
			if !ok || strings.TrimSpace(name) == "" {
				return nil, fmt.Errorf("control line %d: expected \"Field: value\", got %q", n, line)
			}
			last = strings.ToLower(strings.TrimSpace(name))
			fields[last] = strings.TrimSpace(value)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read control data: %w", err)
	}
	return fields, nil
}

// dependencyNames lists the package names of a Depends field in order, all
// alternatives included, without version constraints or architecture
// qualifiers.
func dependencyNames(depends string) []string {
	var names []string
	for _, item := range strings.Split(depends, ",") {
		for _, alt := range strings.Split(item, "|") {
			f := strings.Fields(alt)
			if len(f) == 0 {
				continue
			}
			name, _, _ := strings.Cut(f[0], "(")
			name, _, _ = strings.Cut(name, ":")
			if name != "" {
				names = append(names, name)
			}
		}
	}
	return names
}

// imageDependency returns the kernel image a meta package points at, or ""
// if pkg is itself the image. Meta packages (linux-image-amd64) depend on
// exactly one versioned image; an image depends on tools, never on another
// linux-image package.
func imageDependency(pkg, depends string) string {
	for _, name := range dependencyNames(depends) {
		if strings.HasPrefix(name, "linux-image-") && name != pkg {
			return name
		}
	}
	return ""
}
