package kmod

import (
	"reflect"
	"testing"

	"github.com/runxen/runxen/kernel/kmod/kmodtest"
)

func TestParseModInfo(t *testing.T) {
	tests := []struct {
		name    string
		section string
		want    ModInfo
		deps    []string
	}{
		{
			name:    "padded strings",
			section: "license=GPL\x00\x00\x00depends=jbd2,mbcache,crc16\x00alias=fs-ext4\x00alias=ext3\x00",
			want:    ModInfo{"license": {"GPL"}, "depends": {"jbd2,mbcache,crc16"}, "alias": {"fs-ext4", "ext3"}},
			deps:    []string{"jbd2", "mbcache", "crc16"},
		},
		{
			name:    "empty depends and dashes",
			section: "depends=\x00depends=xen-evtchn\x00noequals\x00=novalue\x00",
			want:    ModInfo{"depends": {"", "xen-evtchn"}},
			deps:    []string{"xen_evtchn"},
		},
		{name: "empty", section: "", want: ModInfo{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ParseModInfo([]byte(tt.section))
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			if deps := got.Depends(); !reflect.DeepEqual(deps, tt.deps) {
				t.Errorf("Depends() = %q, want %q", deps, tt.deps)
			}
		})
	}
}

func TestReadModInfo(t *testing.T) {
	info, err := ReadModInfo(kmodtest.Module("name=9pnet_xen", "depends=9pnet"))
	if err != nil {
		t.Fatal(err)
	}
	if got := info.Depends(); !reflect.DeepEqual(got, []string{"9pnet"}) {
		t.Errorf("Depends() = %q", got)
	}
	if _, err := ReadModInfo([]byte("not an ELF file")); err == nil {
		t.Error("want an error for non-ELF data")
	}
}

func FuzzModInfo(f *testing.F) {
	f.Add(kmodtest.Module("depends=a,b-c", "alias=x"))
	f.Add([]byte("depends=a\x00\x00x=y"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, d := range ParseModInfo(data).Depends() {
			if d == "" || d != Name(d) {
				t.Fatalf("bad dependency name %q", d)
			}
		}
		if info, err := ReadModInfo(data); err == nil {
			info.Depends()
		}
	})
}
