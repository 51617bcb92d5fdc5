package debian

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// ParseOneLine parses the classic one-line format used by
// /etc/apt/sources.list and sources.list.d/*.list:
//
//	deb [ option=value ... ] URI suite [component ...]
func ParseOneLine(r io.Reader) ([]Source, error) {
	var sources []Source
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	lineNo := 0
	for sc.Scan() {
		lineNo++
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		if strings.TrimSpace(line) == "" {
			continue
		}
		s, err := parseOneLine(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", lineNo, err)
		}
		sources = append(sources, s)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("line %d: %w", lineNo+1, err)
	}
	return sources, nil
}

func parseOneLine(line string) (Source, error) {
	typ, rest, _ := strings.Cut(strings.TrimSpace(line), " ")
	typ, rest = strings.TrimSpace(typ), strings.TrimSpace(rest)
	if typ != "deb" && typ != "deb-src" {
		return Source{}, fmt.Errorf("unknown source type %q", typ)
	}
	s := Source{Types: []string{typ}, Enabled: true}
	if strings.HasPrefix(rest, "[") {
		end := strings.IndexByte(rest, ']')
		if end < 0 {
			return Source{}, fmt.Errorf("unterminated option list in %q", line)
		}
		for _, opt := range strings.Fields(rest[1:end]) {
			if k, v, ok := strings.Cut(opt, "="); ok && strings.EqualFold(k, "signed-by") {
				s.SignedBy = v
			}
		}
		rest = rest[end+1:]
	}
	words := strings.Fields(rest)
	if len(words) < 2 {
		return Source{}, fmt.Errorf("want URI and suite in %q", line)
	}
	s.URIs = []string{words[0]}
	s.Suites = []string{words[1]}
	s.Components = words[2:]
	return s, nil
}
