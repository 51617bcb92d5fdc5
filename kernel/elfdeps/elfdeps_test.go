package elfdeps

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// tree writes files ("path" -> content) and links ("path" -> "@target")
// under a new directory.
func tree(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for p, content := range files {
		host := filepath.Join(root, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(host), 0o755); err != nil {
			t.Fatal(err)
		}
		var err error
		if target, ok := strings.CutPrefix(content, "@"); ok {
			err = os.Symlink(target, host)
		} else if strings.HasSuffix(p, "/") {
			err = os.MkdirAll(host, 0o755)
		} else {
			err = os.WriteFile(host, []byte(content), 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestCanonical(t *testing.T) {
	tests := map[string]string{
		"/lib/x86_64-linux-gnu/libc.so.6": "/usr/lib/x86_64-linux-gnu/libc.so.6",
		"/lib64/ld-linux-x86-64.so.2":     "/usr/lib64/ld-linux-x86-64.so.2",
		"/bin/sh":                         "/usr/bin/sh",
		"/sbin":                           "/usr/sbin",
		"/usr/lib/x":                      "/usr/lib/x",
		"/library/x":                      "/library/x",
		"/etc/passwd":                     "/etc/passwd",
		"/":                               "/",
	}
	for in, want := range tests {
		if got := Canonical(in); got != want {
			t.Errorf("Canonical(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestLookup(t *testing.T) {
	root := tree(t, map[string]string{
		"usr/sbin/runc":                        "runc",
		"usr/bin/runc":                         "@../sbin/runc",
		"usr/lib/x86_64-linux-gnu/libz.so.1.3": "z",
		"usr/lib/x86_64-linux-gnu/libz.so.1":   "@libz.so.1.3",
		"usr/lib/x86_64-linux-gnu/libabs.so.1": "@/usr/lib/x86_64-linux-gnu/libz.so.1",
		"lib/x86_64-linux-gnu/libold.so.1":     "old",                                  // unmerged package
		"lib64/ld.so":                          "@../lib/x86_64-linux-gnu/libold.so.1", // relative link in an unmerged place
		"usr/lib/x86_64-linux-gnu/escape.so":   "@../../../../../../../etc/passwd",
		"usr/lib/x86_64-linux-gnu/hostabs.so":  "@/etc/passwd",
		"usr/bin/loop1":                        "@loop2",
		"usr/bin/loop2":                        "@loop1",
		"usr/bin/dirlink":                      "@/usr/lib",
		"usr/share/empty/":                     "",
		"usr/lib/x86_64-linux-gnu/libdot.so":   "@./sub/../libz.so.1.3",
	})
	tests := []struct {
		name      string
		path      string
		wantPath  string
		wantLinks []Entry
		wantErr   string
	}{
		{"plain file", "/usr/sbin/runc", "/usr/sbin/runc", nil, ""},
		{"merged name", "/sbin/runc", "/usr/sbin/runc", nil, ""},
		{"relative link", "/usr/bin/runc", "/usr/sbin/runc", []Entry{{Path: "/usr/bin/runc", Target: "../sbin/runc"}}, ""},
		{"link chain", "/lib/x86_64-linux-gnu/libabs.so.1", "/usr/lib/x86_64-linux-gnu/libz.so.1.3", []Entry{
			{Path: "/usr/lib/x86_64-linux-gnu/libabs.so.1", Target: "/usr/lib/x86_64-linux-gnu/libz.so.1"},
			{Path: "/usr/lib/x86_64-linux-gnu/libz.so.1", Target: "libz.so.1.3"},
		}, ""},
		{"unmerged file", "/usr/lib/x86_64-linux-gnu/libold.so.1", "/usr/lib/x86_64-linux-gnu/libold.so.1", nil, ""},
		{"unmerged link made absolute", "/lib64/ld.so", "/usr/lib/x86_64-linux-gnu/libold.so.1", []Entry{
			{Path: "/usr/lib64/ld.so", Target: "/lib/x86_64-linux-gnu/libold.so.1"},
		}, ""},
		{"link through a directory link", "/usr/bin/dirlink/x86_64-linux-gnu/libz.so.1.3", "/usr/lib/x86_64-linux-gnu/libz.so.1.3", []Entry{
			{Path: "/usr/bin/dirlink", Target: "/usr/lib"},
		}, ""},
		{"dot and dot-dot in a link", "/usr/lib/x86_64-linux-gnu/libdot.so", "", nil, "not in the tree"},
		{"dot-dot stops at the root", "/usr/lib/x86_64-linux-gnu/escape.so", "", nil, "/etc is not in the tree"},
		{"absolute link stays in the tree", "/usr/lib/x86_64-linux-gnu/hostabs.so", "", nil, "/etc is not in the tree"},
		{"loop", "/usr/bin/loop1", "", nil, "too many levels"},
		{"missing", "/usr/bin/nothing", "", nil, "not in the tree"},
		{"file as directory", "/usr/sbin/runc/x", "", nil, "not a directory"},
		{"directory", "/usr/share/empty", "", nil, "not a regular file"},
		{"relative", "usr/sbin/runc", "", nil, "not an absolute path"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file, links, err := Lookup(root, tt.path)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if file.Path != tt.wantPath || file.IsSymlink() || !strings.HasPrefix(file.Src, root) {
				t.Errorf("file = %+v, want path %s", file, tt.wantPath)
			}
			if !slices.Equal(links, tt.wantLinks) {
				t.Errorf("links = %+v, want %+v", links, tt.wantLinks)
			}
		})
	}
}
