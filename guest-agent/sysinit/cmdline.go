package sysinit

import "strings"

// ParseCmdline splits a kernel command line (/proc/cmdline) into
// parameters as the kernel does (lib/cmdline.c next_arg): separated by
// white space, where double quotes group white space into one parameter
// and are themselves removed. Backslashes are not special.
func ParseCmdline(s string) []string {
	var out []string
	var b strings.Builder
	inQuote, have := false, false
	for _, r := range s {
		switch {
		case r == '"':
			inQuote = !inQuote
			have = true
		case !inQuote && (r == ' ' || r == '\t' || r == '\n' || r == '\r'):
			if have {
				out = append(out, b.String())
				b.Reset()
				have = false
			}
		default:
			b.WriteRune(r)
			have = true
		}
	}
	if have {
		out = append(out, b.String())
	}
	return out
}

// CmdlineValue returns the value of the last key=value parameter named
// key (the kernel's own rule: the last one wins), and whether there was one.
// A bare "key" counts, with an empty value.
func CmdlineValue(params []string, key string) (string, bool) {
	val, found := "", false
	for _, p := range params {
		k, v, _ := strings.Cut(p, "=")
		if k == key {
			val, found = v, true
		}
	}
	return val, found
}
