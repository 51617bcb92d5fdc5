package debian

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// ParseDeb822 parses a deb822-style .sources file (sources.list(5)).
func ParseDeb822(r io.Reader) ([]Source, error) {
	var (
		sources []Source
		fields  = map[string]string{}
		last    string // field a continuation line extends
		lineNo  int
	)
	flush := func() {
		if len(fields) > 0 {
			sources = append(sources, sourceFromFields(fields))
		}
		fields = map[string]string{}
		last = ""
	}
	sc := bufio.NewScanner(r)
	// Inline Signed-By key blocks make long paragraphs, not long lines, but a
	// generous limit keeps odd files from failing with a bare ErrTooLong.
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		lineNo++
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "#"):
			continue
		case strings.TrimSpace(line) == "":
			flush()
		case line[0] == ' ' || line[0] == '\t':
			if last == "" {
				return nil, fmt.Errorf("line %d: continuation line outside a field", lineNo)
			}
			fields[last] += "\n" + strings.TrimSpace(line)
		default:
			name, value, ok := strings.Cut(line, ":")
			if !ok || strings.TrimSpace(name) == "" {
				return nil, fmt.Errorf("line %d: expected \"Field: value\", got %q", lineNo, line)
			}
			last = strings.ToLower(strings.TrimSpace(name))
			fields[last] = strings.TrimSpace(value)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("line %d: %w", lineNo+1, err)
	}
	flush()
	return sources, nil
}

func sourceFromFields(f map[string]string) Source {
	return Source{
		Types:      strings.Fields(f["types"]),
		URIs:       strings.Fields(f["uris"]),
		Suites:     strings.Fields(f["suites"]),
		Components: strings.Fields(f["components"]),
		Enabled:    parseEnabled(f["enabled"]),
		SignedBy:   f["signed-by"],
	}
}

// parseEnabled mirrors apt's StringToBool: only explicit negatives disable.
func parseEnabled(v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "no", "false", "without", "off", "disable", "0":
		return false
	}
	return true
}
