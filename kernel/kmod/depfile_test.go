package kmod

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
)

func TestParseDep(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []DepEntry
		wantErr bool
	}{
		{
			name: "depmod output",
			in:   "kernel/fs/ext4/ext4.ko.xz: kernel/fs/mbcache.ko.xz kernel/fs/jbd2/jbd2.ko.xz\nkernel/fs/jbd2/jbd2.ko.xz:\n\n# comment\n",
			want: []DepEntry{
				{Path: "kernel/fs/ext4/ext4.ko.xz", Deps: []string{"kernel/fs/mbcache.ko.xz", "kernel/fs/jbd2/jbd2.ko.xz"}},
				{Path: "kernel/fs/jbd2/jbd2.ko.xz", Deps: []string{}},
			},
		},
		{name: "empty", in: "", want: nil},
		{name: "missing colon", in: "kernel/a.ko\n", wantErr: true},
		{name: "escaping path", in: "../a.ko:\n", wantErr: true},
		{name: "absolute dep", in: "a.ko: /lib/b.ko\n", wantErr: true},
		{name: "not a module", in: "a.ko: b.txt\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseDep(strings.NewReader(tt.in))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestWriteDepRoundTrip(t *testing.T) {
	in := []DepEntry{
		{Path: "kernel/a.ko.xz", Deps: []string{"kernel/b.ko.xz", "kernel/c.ko.xz"}},
		{Path: "kernel/b.ko.xz", Deps: []string{}},
	}
	var b bytes.Buffer
	if err := WriteDep(&b, in); err != nil {
		t.Fatal(err)
	}
	if want := "kernel/a.ko.xz: kernel/b.ko.xz kernel/c.ko.xz\nkernel/b.ko.xz:\n"; b.String() != want {
		t.Errorf("wrote %q, want %q", b.String(), want)
	}
	out, err := ParseDep(&b)
	if err != nil || !reflect.DeepEqual(out, in) {
		t.Errorf("round trip: %#v, %v", out, err)
	}
}

func TestParseBuiltin(t *testing.T) {
	tests := []struct {
		in      string
		want    map[string]bool
		wantErr bool
	}{
		{"kernel/drivers/xen/xen-evtchn.ko\nkernel/fs/ext4/ext4.ko\n\n", map[string]bool{"xen_evtchn": true, "ext4": true}, false},
		{"", map[string]bool{}, false},
		{"kernel/fs/ext4\n", nil, true},
	}
	for _, tt := range tests {
		got, err := ParseBuiltin(strings.NewReader(tt.in))
		if (err != nil) != tt.wantErr || (!tt.wantErr && !reflect.DeepEqual(got, tt.want)) {
			t.Errorf("ParseBuiltin(%q) = %v, %v", tt.in, got, err)
		}
	}
}

func FuzzParseDep(f *testing.F) {
	f.Add("kernel/fs/ext4/ext4.ko.xz: kernel/fs/mbcache.ko.xz kernel/fs/jbd2/jbd2.ko.xz\nkernel/fs/jbd2/jbd2.ko.xz:\n")
	f.Add("a.ko: a.ko\n#x\n\n b.ko.zst :c.ko.gz")
	f.Add("../x.ko:\n")
	f.Fuzz(func(t *testing.T, in string) {
		entries, err := ParseDep(strings.NewReader(in))
		if err != nil {
			return
		}
		for _, e := range entries {
			for _, p := range append([]string{e.Path}, e.Deps...) {
				if checkModulePath(p) != nil {
					t.Fatalf("accepted bad path %q", p)
				}
			}
		}
		// Whatever parses must survive a write/parse round trip.
		var b bytes.Buffer
		if err := WriteDep(&b, entries); err != nil {
			t.Fatal(err)
		}
		again, err := ParseDep(&b)
		if err != nil || len(again) != len(entries) {
			t.Fatalf("round trip: %d entries, %v", len(again), err)
		}
	})
}

func FuzzParseBuiltin(f *testing.F) {
	f.Add("kernel/drivers/xen/xen-evtchn.ko\n")
	f.Add("x.ko.xz\n\n#\n")
	f.Fuzz(func(t *testing.T, in string) {
		got, err := ParseBuiltin(strings.NewReader(in))
		if err != nil {
			return
		}
		for name := range got {
			if name == "" || strings.Contains(name, "-") {
				t.Fatalf("non-canonical name %q", name)
			}
		}
	})
}
