package elfdeps

import (
	"debug/elf"
	"fmt"
	"path"
	"slices"
	"strings"
)

// object is what the loader needs to know about one ELF file.
type object struct {
	path    string // canonical guest path
	class   elf.Class
	machine elf.Machine
	interp  string
	needed  []string
	runpath []string
	rpath   []string
}

func readObject(e Entry) (*object, error) {
	f, err := elf.Open(e.Src)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", e.Path, err)
	}
	defer f.Close()
	o := &object{path: e.Path, class: f.Class, machine: f.Machine}
	hasDynamic := false
	for _, p := range f.Progs {
		switch p.Type {
		case elf.PT_INTERP:
			data := make([]byte, p.Filesz)
			if _, err := p.ReadAt(data, 0); err != nil {
				return nil, fmt.Errorf("%s: read PT_INTERP: %w", e.Path, err)
			}
			o.interp = strings.TrimRight(string(data), "\x00")
		case elf.PT_DYNAMIC:
			hasDynamic = true
		}
	}
	if !hasDynamic {
		return o, nil // static
	}
	// debug/elf reads the dynamic section through the section headers; a
	// file stripped of them would silently look as if it needed nothing.
	if f.SectionByType(elf.SHT_DYNAMIC) == nil {
		return nil, fmt.Errorf("%s: dynamic segment without section headers", e.Path)
	}
	for _, d := range []struct {
		tag  elf.DynTag
		dst  *[]string
		list bool
	}{{elf.DT_NEEDED, &o.needed, false}, {elf.DT_RUNPATH, &o.runpath, true}, {elf.DT_RPATH, &o.rpath, true}} {
		vals, err := f.DynString(d.tag)
		if err != nil {
			return nil, fmt.Errorf("%s: %v: %w", e.Path, d.tag, err)
		}
		for _, v := range vals {
			if d.list {
				*d.dst = append(*d.dst, strings.Split(v, ":")...)
			} else {
				*d.dst = append(*d.dst, v)
			}
		}
	}
	return o, nil
}

// multiarch is Debian's multiarch tuple for an ELF class and machine: the
// directory under /usr/lib holding that architecture's libraries.
func multiarch(class elf.Class, m elf.Machine) string {
	switch {
	case m == elf.EM_X86_64 && class == elf.ELFCLASS64:
		return "x86_64-linux-gnu"
	case m == elf.EM_X86_64 && class == elf.ELFCLASS32:
		return "x86_64-linux-gnux32"
	case m == elf.EM_386:
		return "i386-linux-gnu"
	case m == elf.EM_AARCH64:
		return "aarch64-linux-gnu"
	case m == elf.EM_ARM:
		return "arm-linux-gnueabihf"
	case m == elf.EM_RISCV && class == elf.ELFCLASS64:
		return "riscv64-linux-gnu"
	case m == elf.EM_PPC64:
		return "powerpc64le-linux-gnu"
	case m == elf.EM_S390:
		return "s390x-linux-gnu"
	case m == elf.EM_LOONGARCH:
		return "loongarch64-linux-gnu"
	}
	return ""
}

// systemDirs are the directories glibc's loader searches last, without an
// ld.so.cache; Debian's loader is built with these (ld.so
// --list-diagnostics prints them as path.system_dirs).
func systemDirs(class elf.Class, m elf.Machine) []string {
	var dirs []string
	if t := multiarch(class, m); t != "" {
		dirs = append(dirs, "/lib/"+t, "/usr/lib/"+t)
	}
	return append(dirs, "/lib", "/usr/lib")
}

// closure is one Closure computation.
type closure struct {
	root    string
	entries map[string]Entry
	objects map[string]*object // by canonical path, parsed once
}

// Closure returns what the programs at the given absolute paths need to run
// from the tree at root: the programs, their interpreters and every shared
// library they load, recursively, and the symbolic links on the way to each,
// sorted by path. A static program needs only itself. A library that cannot
// be found is an error naming it and the object that needs it.
func Closure(root string, programs ...string) ([]Entry, error) {
	c := &closure{root: root, entries: map[string]Entry{}, objects: map[string]*object{}}
	for _, p := range programs {
		if err := c.program(p); err != nil {
			return nil, err
		}
	}
	out := make([]Entry, 0, len(c.entries))
	for _, e := range c.entries {
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b Entry) int { return strings.Compare(a.Path, b.Path) })
	return out, nil
}

func (c *closure) add(file Entry, links []Entry) error {
	for _, e := range append(links, file) {
		if old, ok := c.entries[e.Path]; ok && old.Target != e.Target {
			return fmt.Errorf("%s is both a file and a link", e.Path)
		}
		c.entries[e.Path] = e
	}
	return nil
}

func (c *closure) program(p string) error {
	file, links, err := Lookup(c.root, p)
	if err != nil {
		return err
	}
	if err := c.add(file, links); err != nil {
		return err
	}
	exe, err := c.object(file)
	if err != nil {
		return err
	}
	if exe.interp != "" {
		ifile, ilinks, err := Lookup(c.root, exe.interp)
		if err != nil {
			return fmt.Errorf("interpreter of %s: %w", p, err)
		}
		if err := c.add(ifile, ilinks); err != nil {
			return err
		}
		if _, err := c.object(ifile); err != nil {
			return err
		}
	} else if len(exe.needed) > 0 {
		return fmt.Errorf("%s needs shared libraries but names no interpreter", p)
	}
	// Breadth first, as the loader loads: each object's libraries, then
	// theirs. The executable's origin is its resolved location.
	type pending struct {
		obj    *object
		origin string
	}
	queue := []pending{{exe, path.Dir(file.Path)}}
	seen := map[string]bool{file.Path: true}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		for _, name := range cur.obj.needed {
			lib, links, found, err := c.find(name, cur.obj, exe, cur.origin)
			if err != nil {
				return err
			}
			if err := c.add(lib, links); err != nil {
				return err
			}
			if seen[lib.Path] {
				continue
			}
			seen[lib.Path] = true
			obj, err := c.object(lib)
			if err != nil {
				return err
			}
			// A library's $ORIGIN is where it was found, before links.
			queue = append(queue, pending{obj, path.Dir(found)})
		}
	}
	return nil
}

func (c *closure) object(e Entry) (*object, error) {
	if o, ok := c.objects[e.Path]; ok {
		return o, nil
	}
	o, err := readObject(e)
	if err != nil {
		return nil, err
	}
	c.objects[e.Path] = o
	return o, nil
}

// find looks for the library name as the loader would for obj, the program
// being exe: obj's DT_RPATH and then exe's unless obj has a DT_RUNPATH,
// obj's DT_RUNPATH, then the system directories. A file of another class
// or machine is skipped, as the loader skips it.
func (c *closure) find(name string, obj, exe *object, origin string) (lib Entry, links []Entry, found string, err error) {
	if strings.Contains(name, "/") {
		if !path.IsAbs(name) {
			return Entry{}, nil, "", fmt.Errorf("%s needs %s, a relative path", obj.path, name)
		}
		lib, links, err := Lookup(c.root, name)
		return lib, links, name, err
	}
	var dirs []string
	if len(obj.runpath) == 0 {
		dirs = append(dirs, expand(obj.rpath, origin, obj)...)
		if exe != obj && len(exe.runpath) == 0 {
			dirs = append(dirs, expand(exe.rpath, path.Dir(exe.path), exe)...)
		}
	}
	dirs = append(dirs, expand(obj.runpath, origin, obj)...)
	dirs = append(dirs, systemDirs(obj.class, obj.machine)...)
	for _, d := range dirs {
		p := path.Join(d, name)
		lib, links, err := Lookup(c.root, p)
		if err != nil {
			continue
		}
		o, err := c.object(lib)
		if err != nil {
			return Entry{}, nil, "", err
		}
		if o.class != obj.class || o.machine != obj.machine {
			continue
		}
		return lib, links, Canonical(path.Clean(p)), nil
	}
	return Entry{}, nil, "", fmt.Errorf("%s needs %s, which is not in the tree (searched %s): add the package that ships it",
		obj.path, name, strings.Join(dirs, ":"))
}

// expand substitutes $ORIGIN and $LIB in search path entries and drops
// entries the loader would not use here: relative ones, which depend on the
// working directory, and ones with tokens we do not know ($PLATFORM).
func expand(dirs []string, origin string, o *object) []string {
	var out []string
	lib := "lib"
	if t := multiarch(o.class, o.machine); t != "" {
		lib = "lib/" + t
	}
	for _, d := range dirs {
		for _, tok := range []struct{ name, value string }{
			{"${ORIGIN}", origin}, {"$ORIGIN", origin}, {"${LIB}", lib}, {"$LIB", lib},
		} {
			d = strings.ReplaceAll(d, tok.name, tok.value)
		}
		if d == "" || !path.IsAbs(d) || strings.Contains(d, "$") {
			continue
		}
		out = append(out, path.Clean(d))
	}
	return out
}
