package elfdeps

import (
	"debug/elf"
	"encoding/binary"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// fixtures are small ELF files built with the host's C compiler, without
// libc, so the test needs no particular distribution:
//
//	app       needs libmid.so.2 and libpriv.so, RUNPATH $ORIGIN/../lib/app,
//	          interpreter /lib64/ld-fixture.so.1
//	app-rpath the same with DT_RPATH instead of DT_RUNPATH
//	libmid.so.2       needs libbase.so.1
//	libbase.so.1.0.0  soname libbase.so.1, needs nothing (also the "loader")
//	libpriv.so        needs nothing
//	static            a static executable
type fixtures struct {
	dir   string
	tuple string // multiarch directory name, or "" for plain /usr/lib
}

const interp = "/lib64/ld-fixture.so.1"

func buildFixtures(t *testing.T) fixtures {
	t.Helper()
	cc, err := exec.LookPath("cc")
	if err != nil {
		if cc, err = exec.LookPath("gcc"); err != nil {
			t.Skip("no C compiler to build ELF fixtures")
		}
	}
	dir := t.TempDir()
	sources := map[string]string{
		"base.c":   "int base(void) { return 1; }\n",
		"mid.c":    "int base(void); int mid(void) { return base(); }\n",
		"priv.c":   "int priv(void) { return 2; }\n",
		"app.c":    "int mid(void); int priv(void); void _start(void) { mid(); priv(); for (;;); }\n",
		"static.c": "void _start(void) { for (;;); }\n",
	}
	for name, src := range sources {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	shared := []string{"-shared", "-fPIC", "-nostdlib"}
	steps := [][]string{
		append(slices.Clone(shared), "-Wl,-soname,libbase.so.1", "-o", "libbase.so.1.0.0", "base.c"),
		{"ln", "-s", "libbase.so.1.0.0", "libbase.so.1"},
		append(slices.Clone(shared), "-Wl,-soname,libmid.so.2", "-o", "libmid.so.2", "mid.c", "-L.", "-l:libbase.so.1"),
		append(slices.Clone(shared), "-Wl,-soname,libpriv.so", "-o", "libpriv.so", "priv.c"),
		{"-nostdlib", "-o", "app", "app.c", "-L.", "-l:libmid.so.2", "-l:libpriv.so", "-Wl,-rpath-link,.",
			"-Wl,--dynamic-linker=" + interp, "-Wl,--enable-new-dtags,-rpath,$ORIGIN/../lib/app"},
		{"-nostdlib", "-o", "app-rpath", "app.c", "-L.", "-l:libmid.so.2", "-l:libpriv.so", "-Wl,-rpath-link,.",
			"-Wl,--dynamic-linker=" + interp, "-Wl,--disable-new-dtags,-rpath,$ORIGIN/../lib/app"},
		{"-nostdlib", "-static", "-o", "static", "static.c"},
	}
	for _, args := range steps {
		name := cc
		if args[0] == "ln" {
			name, args = args[0], args[1:]
		}
		cmd := exec.Command(name, args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Skipf("cannot build ELF fixtures (%s %s): %v\n%s", name, strings.Join(args, " "), err, out)
		}
	}
	f, err := elf.Open(filepath.Join(dir, "app"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return fixtures{dir: dir, tuple: multiarch(f.Class, f.Machine)}
}

func (f fixtures) libDir(prefix string) string {
	if f.tuple == "" {
		return prefix
	}
	return prefix + "/" + f.tuple
}

// install copies fixture files into a tree: "tree path" -> "fixture name"
// (or absolute host path), "@target" for a link, "=content" for a file
// with that content.
func (f fixtures) install(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for p, src := range files {
		host := filepath.Join(root, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(host), 0o755); err != nil {
			t.Fatal(err)
		}
		if target, ok := strings.CutPrefix(src, "@"); ok {
			if err := os.Symlink(target, host); err != nil {
				t.Fatal(err)
			}
			continue
		}
		var data []byte
		if literal, ok := strings.CutPrefix(src, "="); ok {
			data = []byte(literal)
		} else {
			if !filepath.IsAbs(src) {
				src = filepath.Join(f.dir, src)
			}
			var err error
			if data, err = os.ReadFile(src); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(host, data, 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

// standardTree lays the fixtures out as Debian would: a program in
// /usr/bin, a private library next to it, libmid from an unmerged package
// in /lib, libbase with its soname link, and the loader behind a link.
func (f fixtures) standardTree() map[string]string {
	lib, ulib := f.libDir("usr/lib"), f.libDir("lib")
	return map[string]string{
		"usr/bin/app":                   "app",
		"usr/bin/app-rpath":             "app-rpath",
		"usr/bin/static":                "static",
		"usr/bin/app-link":              "@app",
		"usr/lib/app/libpriv.so":        "libpriv.so",
		ulib + "/libmid.so.2":           "libmid.so.2",
		lib + "/libbase.so.1":           "@libbase.so.1.0.0",
		lib + "/libbase.so.1.0.0":       "libbase.so.1.0.0",
		"usr/lib/ld-fixture.so.1":       "libbase.so.1.0.0",
		strings.TrimPrefix(interp, "/"): "@../usr/lib/ld-fixture.so.1",
	}
}

// withMachine returns a copy of an ELF file claiming another machine.
func withMachine(t *testing.T, src string, m elf.Machine) string {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	binary.LittleEndian.PutUint16(data[18:], uint16(m)) // e_machine; fixtures are little-endian
	p := filepath.Join(t.TempDir(), "foreign.so")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestClosure(t *testing.T) {
	f := buildFixtures(t)
	lib, ulib := "/"+f.libDir("usr/lib"), "/"+f.libDir("lib")
	dynamic := []string{
		"/usr/lib/ld-fixture.so.1",
		"/usr/lib/app/libpriv.so",
		lib + "/libbase.so.1 -> libbase.so.1.0.0",
		lib + "/libbase.so.1.0.0",
		lib + "/libmid.so.2",
		// Found in the unmerged /lib64, so the relative link is made absolute.
		"/usr/lib64/ld-fixture.so.1 -> /usr/lib/ld-fixture.so.1",
	}
	foreign := withMachine(t, filepath.Join(f.dir, "libmid.so.2"), elf.EM_S390)
	tests := []struct {
		name     string
		edit     map[string]string // changes to the standard tree
		remove   []string
		programs []string
		want     []string // "path" or "path -> target"
		wantErr  string
	}{
		{name: "runpath, soname link, unmerged library, loader link", programs: []string{"/usr/bin/app"},
			want: append([]string{"/usr/bin/app"}, dynamic...)},
		{name: "rpath", programs: []string{"/usr/bin/app-rpath"},
			want: append([]string{"/usr/bin/app-rpath"}, dynamic...)},
		{name: "merged path of the program", programs: []string{"/bin/app"},
			want: append([]string{"/usr/bin/app"}, dynamic...)},
		{name: "program behind a link", programs: []string{"/usr/bin/app-link"},
			want: append([]string{"/usr/bin/app", "/usr/bin/app-link -> app"}, dynamic...)},
		{name: "static program", programs: []string{"/usr/bin/static"}, want: []string{"/usr/bin/static"}},
		{name: "several programs share libraries", programs: []string{"/usr/bin/app", "/usr/bin/static", "/usr/bin/app-rpath"},
			want: append([]string{"/usr/bin/app", "/usr/bin/app-rpath", "/usr/bin/static"}, dynamic...)},
		{name: "library of another machine first in the path is skipped", programs: []string{"/usr/bin/app"},
			edit: map[string]string{"usr/lib/app/libmid.so.2": foreign},
			want: append([]string{"/usr/bin/app"}, dynamic...)},
		{name: "missing library", programs: []string{"/usr/bin/app"},
			remove:  []string{strings.TrimPrefix(lib, "/") + "/libbase.so.1.0.0"},
			wantErr: lib + "/libmid.so.2 needs libbase.so.1, which is not in the tree"},
		{name: "library found only where RUNPATH does not reach", programs: []string{"/usr/bin/app"},
			remove:  []string{"usr/lib/app/libpriv.so"},
			edit:    map[string]string{"opt/app/libpriv.so": "libpriv.so"},
			wantErr: "/usr/bin/app needs libpriv.so"},
		{name: "missing interpreter", programs: []string{"/usr/bin/app"},
			remove:  []string{"usr/lib/ld-fixture.so.1"},
			wantErr: "interpreter of /usr/bin/app"},
		{name: "library that is not ELF", programs: []string{"/usr/bin/app"},
			edit:    map[string]string{"usr/lib/app/libpriv.so": "=not an ELF file"},
			wantErr: "/usr/lib/app/libpriv.so"},
		{name: "program that is not ELF", programs: []string{"/usr/bin/script"},
			edit:    map[string]string{"usr/bin/script": "=#!/bin/sh\n"},
			wantErr: "/usr/bin/script"},
		{name: "missing program", programs: []string{"/usr/bin/nothing"}, wantErr: "not in the tree"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := f.standardTree()
			for p, src := range tt.edit {
				files[p] = src
			}
			for _, p := range tt.remove {
				delete(files, p)
			}
			root := t.TempDir()
			f.install(t, root, files)
			// ulib is a real directory in the tree: an unmerged package.
			if _, err := os.Stat(filepath.Join(root, strings.TrimPrefix(ulib, "/"))); err != nil {
				t.Fatalf("fixture layout: %v", err)
			}
			entries, err := Closure(root, tt.programs...)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, e := range entries {
				if e.IsSymlink() {
					got = append(got, e.Path+" -> "+e.Target)
					continue
				}
				got = append(got, e.Path)
				if _, err := os.Stat(e.Src); err != nil || !strings.HasPrefix(e.Src, root) {
					t.Errorf("%s: source %q outside the tree or missing", e.Path, e.Src)
				}
			}
			want := slices.Clone(tt.want)
			slices.SortFunc(want, func(a, b string) int {
				return strings.Compare(strings.Fields(a)[0], strings.Fields(b)[0])
			})
			if !slices.Equal(got, want) {
				t.Errorf("closure\n got %q\nwant %q", got, want)
			}
		})
	}
}

// TestClosureHostProgram resolves a program of the host itself, its root
// being the tree: whatever the distribution, every DT_NEEDED library of ls
// must be in the closure, and so must its interpreter.
func TestClosureHostProgram(t *testing.T) {
	ls, err := exec.LookPath("ls")
	if err != nil {
		t.Skip("no ls")
	}
	ls, _ = filepath.Abs(ls)
	f, err := elf.Open(ls)
	if err != nil {
		t.Skipf("ls is not ELF: %v", err)
	}
	needed, _ := f.ImportedLibraries()
	var interp string
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			b := make([]byte, p.Filesz)
			p.ReadAt(b, 0)
			interp = strings.TrimRight(string(b), "\x00")
		}
	}
	f.Close()
	if interp == "" {
		t.Skip("ls is static")
	}
	entries, err := Closure("/", filepath.ToSlash(ls))
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, e := range entries {
		have[path.Base(e.Path)] = true
		have[e.Path] = true
	}
	for _, n := range append(needed, path.Base(interp)) {
		if !have[n] {
			t.Errorf("closure of %s lacks %s: %+v", ls, n, entries)
		}
	}
	if !have[Canonical(path.Clean(interp))] {
		t.Errorf("closure lacks the interpreter %s at its canonical path", interp)
	}
}
