package debkernel

import (
	"reflect"
	"strings"
	"testing"
)

func TestControlStanza(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    map[string]string
		wantErr bool
	}{
		{
			name: "first stanza only",
			in:   "\nPackage: a\nDepends: b,\n c\n\nPackage: z\n",
			want: map[string]string{"package": "a", "depends": "b,\nc"},
		},
		{name: "empty", in: "", want: map[string]string{}},
		{name: "leading continuation", in: " x\n", wantErr: true},
		{name: "no colon", in: "Package a\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := controlStanza([]byte(tt.in))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v", err)
			}
			if !tt.wantErr && !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestImageDependency(t *testing.T) {
	tests := []struct {
		pkg, depends, want string
	}{
		{"linux-image-amd64", "linux-image-6.12.57+deb13-amd64 (= 6.12.57-1)", "linux-image-6.12.57+deb13-amd64"},
		{"linux-image-cloud-amd64", "linux-image-6.12.57+deb13-cloud-amd64:amd64 (= 6.12.57-1)", "linux-image-6.12.57+deb13-cloud-amd64"},
		{"linux-image-6.12.57+deb13-amd64", "kmod, linux-base (>= 4.3~), initramfs-tools (>= 0.120+deb8u2) | linux-initramfs-tool", ""},
		{"linux-image-amd64", "foo | linux-image-6.1.0-1-amd64, linux-image-6.12.1-amd64", "linux-image-6.1.0-1-amd64"},
		{"linux-image-amd64", "", ""},
		{"linux-image-amd64", "linux-image-amd64", ""},
	}
	for _, tt := range tests {
		if got := imageDependency(tt.pkg, tt.depends); got != tt.want {
			t.Errorf("imageDependency(%q, %q) = %q, want %q", tt.pkg, tt.depends, got, tt.want)
		}
	}
}

func FuzzControl(f *testing.F) {
	f.Add("Package: linux-image-amd64\nDepends: linux-image-6.12.57+deb13-amd64 (= 6.12.57-1)\n")
	f.Add("Package: x\nDepends: a | b:any (>= 1), , |\n c\n\nPackage: y\n")
	f.Add(" \n\t\n:")
	f.Fuzz(func(t *testing.T, in string) {
		fields, err := controlStanza([]byte(in))
		if err != nil {
			return
		}
		pkg := fields["package"]
		next := imageDependency(pkg, fields["depends"])
		if next != "" && (next == pkg || !strings.HasPrefix(next, "linux-image-")) {
			t.Fatalf("imageDependency(%q) = %q", pkg, next)
		}
		for _, n := range dependencyNames(fields["depends"]) {
			if n == "" || strings.ContainsAny(n, " \t\n,|(:") {
				t.Fatalf("bad dependency name %q", n)
			}
		}
	})
}
