package sysinit

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseMountInfo(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []MountInfo
		wantErr bool
	}{
		{
			name: "optional fields vary",
			in: "1 1 0:2 / / rw - rootfs rootfs rw\n" +
				"22 1 0:20 / /proc rw,nosuid,nodev,noexec shared:12 - proc proc rw\n" +
				"23 1 0:5 / /dev rw,nosuid shared:2 master:1 - devtmpfs devtmpfs rw,mode=755\n",
			want: []MountInfo{{"/", "rootfs"}, {"/proc", "proc"}, {"/dev", "devtmpfs"}},
		},
		{
			name: "escaped mount point",
			in:   `40 1 0:30 / /mnt/with\040space\134x rw - tmpfs tmpfs rw` + "\n",
			want: []MountInfo{{`/mnt/with space\x`, "tmpfs"}},
		},
		{name: "empty", in: "\n", want: nil},
		{name: "no separator", in: "1 1 0:2 / / rw rootfs rootfs rw\n", wantErr: true},
		{name: "nothing after separator", in: "1 1 0:2 / / rw -\n", wantErr: true},
		{name: "too short", in: "1 1 0:2 /\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseMountInfo(strings.NewReader(tt.in))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestUnescapeOctal(t *testing.T) {
	tests := map[string]string{
		`/a\040b`:  "/a b",
		`/a\011b`:  "/a\tb",
		`/a\012`:   "/a\n",
		`/a\134`:   `/a\`,
		`/a\9`:     `/a\9`,
		`/a\04`:    `/a\04`,
		`/plain`:   "/plain",
		`\040\040`: "  ",
	}
	for in, want := range tests {
		if got := unescapeOctal(in); got != want {
			t.Errorf("unescapeOctal(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzParseMountInfo(f *testing.F) {
	f.Add("22 1 0:20 / /proc rw,nosuid shared:12 - proc proc rw\n")
	f.Add(`1 1 0:2 / /a\040b rw - x y z` + "\n- - - - - - -\n")
	f.Fuzz(func(t *testing.T, in string) {
		infos, err := ParseMountInfo(strings.NewReader(in))
		if err != nil {
			return
		}
		for _, i := range infos {
			if i.FSType == "" {
				t.Fatalf("empty file system type in %q", in)
			}
		}
	})
}
