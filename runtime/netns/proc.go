package netns

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
)

// Parsers for the /proc files Cleanup reads. Their contents are partly
// chosen by whoever runs the process (argv, environment, and the command
// name inside /proc/<pid>/stat), so they are parsed defensively.

// splitNUL splits a NUL-separated list (/proc/<pid>/cmdline, environ).
func splitNUL(b []byte) []string {
	b = bytes.TrimSuffix(b, []byte{0})
	if len(b) == 0 {
		return nil
	}
	parts := bytes.Split(b, []byte{0})
	out := make([]string, len(parts))
	for i, p := range parts {
		out[i] = string(p)
	}
	return out
}

// envValue finds key in an environ list; the first entry wins, as getenv.
func envValue(environ []string, key string) (string, bool) {
	for _, kv := range environ {
		if len(kv) > len(key) && kv[len(key)] == '=' && kv[:len(key)] == key {
			return kv[len(key)+1:], true
		}
	}
	return "", false
}

// parsePPid reads the parent pid from /proc/<pid>/stat: "pid (comm) state
// ppid ...". comm may hold spaces and parentheses, so the fields are
// counted from the last ')'.
func parsePPid(stat []byte) (int, error) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, errors.New("stat: no ')' after the command name")
	}
	f := bytes.Fields(stat[i+1:])
	if len(f) < 2 {
		return 0, fmt.Errorf("stat: %d fields after the command name, want at least 2", len(f))
	}
	ppid, err := strconv.Atoi(string(f[1]))
	if err != nil || ppid < 0 {
		return 0, fmt.Errorf("stat: parent pid %q", f[1])
	}
	return ppid, nil
}

// holderOf says whether a process with this argv and environment is a
// holder for id, and which pid started it.
func holderOf(argv, environ []string, id string) (parent int, ok bool) {
	if len(argv) < 2 || argv[0] != holderArgv0 || argv[1] != id {
		return 0, false
	}
	if v, found := envValue(environ, envID); !found || v != id {
		return 0, false
	}
	v, found := envValue(environ, envParent)
	if !found {
		return 0, false
	}
	parent, err := strconv.Atoi(v)
	if err != nil || parent <= 0 {
		return 0, false
	}
	return parent, true
}
