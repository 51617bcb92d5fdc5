package stdio

import (
	"fmt"
	"net/url"
	"path/filepath"
	"sort"
	"strings"

	"github.com/containerd/errdefs"
)

// Kind says what a process's output goes to.
type Kind int

const (
	// None: nobody wants the output; it is drained and dropped.
	None Kind = iota
	// FIFO: named pipes the client opened, one per stream.
	FIFO
	// File: one file both streams are appended to.
	File
	// Binary: a logging program the shim starts, reading stdout on fd 3
	// and stderr on fd 4, and closing fd 5 once it is ready.
	Binary
)

func (k Kind) String() string {
	switch k {
	case FIFO:
		return "fifo"
	case File:
		return "file"
	case Binary:
		return "binary"
	}
	return "none"
}

// Target is where a process's output goes, decoded from the stdout value
// of a Create or Exec request.
type Target struct {
	Kind Kind
	// Path: the FIFO, the file, or the logging binary.
	Path string
	// Args are the logging binary's arguments, from the URI's query: each
	// key followed by its first value if it has one, in key order.
	Args []string
}

// maxURILen bounds a stdio value: a path or a URI with a few arguments.
const maxURILen = 8192

// ParseTarget decodes a stdout value: empty (no output), a plain path or
// fifo:// URI (a FIFO), file:///path or binary:///path?args. Anything else
// is refused, naming the scheme.
func ParseTarget(stdout string) (Target, error) {
	if stdout == "" {
		return Target{Kind: None}, nil
	}
	if len(stdout) > maxURILen {
		return Target{}, fmt.Errorf("stdout URI is longer than %d bytes: %w", maxURILen, errdefs.ErrInvalidArgument)
	}
	if strings.ContainsRune(stdout, 0) {
		return Target{}, fmt.Errorf("stdout URI has a NUL byte: %w", errdefs.ErrInvalidArgument)
	}
	if !strings.Contains(stdout, "://") {
		return pathTarget(FIFO, stdout)
	}
	u, err := url.Parse(stdout)
	if err != nil {
		return Target{}, fmt.Errorf("stdout URI %q: %v: %w", stdout, err, errdefs.ErrInvalidArgument)
	}
	if u.Host != "" {
		return Target{}, fmt.Errorf("stdout URI %q names a host; runxen takes only %s:///path: %w", stdout, u.Scheme, errdefs.ErrInvalidArgument)
	}
	switch u.Scheme {
	case "fifo":
		return pathTarget(FIFO, u.Path)
	case "file":
		if u.RawQuery != "" {
			return Target{}, fmt.Errorf("stdout URI %q: file:// takes no arguments: %w", stdout, errdefs.ErrInvalidArgument)
		}
		return pathTarget(File, u.Path)
	case "binary":
		t, err := pathTarget(Binary, u.Path)
		if err != nil {
			return t, err
		}
		q := u.Query()
		keys := make([]string, 0, len(q))
		for k := range q {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			t.Args = append(t.Args, k)
			if vs := q[k]; len(vs) > 0 && vs[0] != "" {
				t.Args = append(t.Args, vs[0])
			}
		}
		return t, nil
	}
	return Target{}, fmt.Errorf("stdout URI scheme %q: runxen supports FIFO paths, file:// and binary://: %w", u.Scheme, errdefs.ErrNotImplemented)
}

func pathTarget(k Kind, p string) (Target, error) {
	if !filepath.IsAbs(p) {
		return Target{}, fmt.Errorf("stdout %s path %q is not absolute: %w", k, p, errdefs.ErrInvalidArgument)
	}
	return Target{Kind: k, Path: filepath.Clean(p)}, nil
}
