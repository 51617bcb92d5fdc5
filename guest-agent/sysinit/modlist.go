package sysinit

import "strings"

// parseModuleList returns the module paths of a modules.load file in order:
// one absolute path per line; blank lines and # comments are skipped.
func parseModuleList(data string) []string {
	var paths []string
	for _, line := range strings.Split(data, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		paths = append(paths, line)
	}
	return paths
}
