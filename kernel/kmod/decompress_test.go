package kmod

import (
	"bytes"
	"path/filepath"
	"testing"

	"github.com/runxen/runxen/kernel/kmod/kmodtest"
)

func TestReadModule(t *testing.T) {
	dir := t.TempDir()
	want := kmodtest.Module("name=x", "depends=")
	for _, name := range []string{"x.ko", "x.ko.xz", "x.ko.zst", "x.ko.gz"} {
		t.Run(name, func(t *testing.T) {
			kmodtest.WriteFile(t, dir, name, kmodtest.Compress(t, name, want))
			got, err := ReadModule(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Error("decompressed module differs")
			}
		})
	}
	for _, bad := range []string{"x.ko.bz2", "missing.ko"} {
		if bad == "x.ko.bz2" {
			kmodtest.WriteFile(t, dir, bad, want)
		}
		if _, err := ReadModule(filepath.Join(dir, bad)); err == nil {
			t.Errorf("%s: want an error", bad)
		}
	}
	kmodtest.WriteFile(t, dir, "corrupt.ko.xz", []byte("not xz"))
	if _, err := ReadModule(filepath.Join(dir, "corrupt.ko.xz")); err == nil {
		t.Error("corrupt.ko.xz: want an error")
	}
}
