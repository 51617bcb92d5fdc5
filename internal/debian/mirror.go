package debian

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// EnvMirror overrides the mirror found in the apt configuration.
const EnvMirror = "RUNXEN_DEBIAN_MIRROR"

// ErrNoMirror is returned when neither the environment nor apt names a
// usable Debian archive.
var ErrNoMirror = errors.New("no Debian mirror in apt configuration; set " + EnvMirror)

// Mirror returns the Debian archive URL to fetch from: $RUNXEN_DEBIAN_MIRROR
// if set, else the first Debian archive in the host's apt configuration.
func Mirror() (string, error) {
	if v := strings.TrimSpace(os.Getenv(EnvMirror)); v != "" {
		if !usableURI(v) {
			return "", fmt.Errorf("%s=%q: want an http, https or file URL", EnvMirror, v)
		}
		return strings.TrimRight(v, "/"), nil
	}
	return MirrorFromConfig("/etc/apt")
}

// MirrorFromConfig searches an apt configuration directory (normally
// /etc/apt) in the order apt itself reads it: sources.list.d/*.sources,
// sources.list.d/*.list, then sources.list.
func MirrorFromConfig(etcApt string) (string, error) {
	type listFile struct {
		path  string
		parse func(io.Reader) ([]Source, error)
	}
	var files []listFile
	for _, pattern := range []struct {
		glob  string
		parse func(io.Reader) ([]Source, error)
	}{
		{"sources.list.d/*.sources", ParseDeb822},
		{"sources.list.d/*.list", ParseOneLine},
	} {
		// Glob only fails on a malformed pattern, and ours are constant.
		matches, _ := filepath.Glob(filepath.Join(etcApt, pattern.glob))
		for _, m := range matches { // Glob sorts, like apt does.
			files = append(files, listFile{m, pattern.parse})
		}
	}
	files = append(files, listFile{filepath.Join(etcApt, "sources.list"), ParseOneLine})

	for _, f := range files {
		sources, err := parseFile(f.path, f.parse)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return "", err
		}
		if m, ok := MirrorFrom(sources); ok {
			return m, nil
		}
	}
	return "", ErrNoMirror
}

func parseFile(path string, parse func(io.Reader) ([]Source, error)) ([]Source, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sources, err := parse(f)
	if err != nil {
		return nil, fmt.Errorf("parse apt source list %s: %w", path, err)
	}
	return sources, nil
}
