// Package kmodtest builds synthetic kernel modules and module trees for
// tests, so that code handling real Debian kernels can be tested without
// one: the modules are genuine ELF files with a .modinfo section, compressed
// the way the kernel build compresses them.
package kmodtest

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// Module returns a minimal x86-64 relocatable ELF whose .modinfo section
// holds info, e.g. Module("name=ext4", "depends=jbd2,mbcache").
func Module(info ...string) []byte {
	var modinfo []byte
	for _, kv := range info {
		modinfo = append(modinfo, kv...)
		modinfo = append(modinfo, 0)
	}
	shstrtab := []byte("\x00.modinfo\x00.shstrtab\x00")

	const ehsize, shentsize = 64, 64
	modinfoOff := uint64(ehsize)
	shstrOff := modinfoOff + uint64(len(modinfo))
	shOff := (shstrOff + uint64(len(shstrtab)) + 7) &^ 7

	var b bytes.Buffer
	hdr := elf.Header64{
		Type: uint16(elf.ET_REL), Machine: uint16(elf.EM_X86_64), Version: uint32(elf.EV_CURRENT),
		Shoff: shOff, Ehsize: ehsize, Shentsize: shentsize, Shnum: 3, Shstrndx: 2,
	}
	copy(hdr.Ident[:], elf.ELFMAG)
	hdr.Ident[elf.EI_CLASS] = byte(elf.ELFCLASS64)
	hdr.Ident[elf.EI_DATA] = byte(elf.ELFDATA2LSB)
	hdr.Ident[elf.EI_VERSION] = byte(elf.EV_CURRENT)
	must(binary.Write(&b, binary.LittleEndian, hdr))
	b.Write(modinfo)
	b.Write(shstrtab)
	b.Write(make([]byte, shOff-uint64(b.Len())))
	sections := []elf.Section64{
		{},
		{Name: 1, Type: uint32(elf.SHT_PROGBITS), Flags: uint64(elf.SHF_ALLOC), Off: modinfoOff, Size: uint64(len(modinfo)), Addralign: 1},
		{Name: 10, Type: uint32(elf.SHT_STRTAB), Off: shstrOff, Size: uint64(len(shstrtab)), Addralign: 1},
	}
	for _, s := range sections {
		must(binary.Write(&b, binary.LittleEndian, s))
	}
	// Real modules end with an appended signature; the kernel and our
	// readers must not care about bytes after the ELF data.
	b.WriteString("~Module signature appended~\n")
	return b.Bytes()
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}

// Compress encodes data the way a module file named name is compressed
// (.ko.xz, .ko.zst, .ko.gz, or plain .ko).
func Compress(t testing.TB, name string, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	switch {
	case strings.HasSuffix(name, ".xz"):
		w, err := xz.NewWriter(&b)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(data)
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	case strings.HasSuffix(name, ".zst"):
		w, err := zstd.NewWriter(&b)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(data)
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	case strings.HasSuffix(name, ".gz"):
		w := gzip.NewWriter(&b)
		w.Write(data)
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	default:
		return data
	}
	return b.Bytes()
}

// WriteFile writes content to dir/rel, creating parent directories.
func WriteFile(t testing.TB, dir, rel string, content []byte) {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, content, 0o644); err != nil {
		t.Fatal(err)
	}
}

// Spec describes one module of a synthetic tree.
type Spec struct {
	Path    string   // relative path, compression chosen by suffix
	Depends []string // module names recorded in .modinfo
}

// WriteTree writes modules into dir, each compressed by its suffix, with
// .modinfo naming its dependencies. It writes no modules.dep.
func WriteTree(t testing.TB, dir string, mods []Spec) {
	t.Helper()
	for _, m := range mods {
		base := filepath.Base(m.Path)
		name := base[:strings.Index(base, ".ko")]
		data := Module("name="+name, "depends="+strings.Join(m.Depends, ","), "license=GPL")
		WriteFile(t, dir, m.Path, Compress(t, m.Path, data))
	}
}
