package debian

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseDeb822(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []Source
		wantErr bool
	}{
		{
			name: "two paragraphs with comments",
			in: `Types: deb
# a comment between fields
URIs: http://mirror.example/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://mirror.example/debian-security
Suites: bookworm-security
Components: main
`,
			want: []Source{
				{Types: []string{"deb"}, URIs: []string{"http://mirror.example/debian"}, Suites: []string{"bookworm", "bookworm-updates"}, Components: []string{"main"}, Enabled: true, SignedBy: "/usr/share/keyrings/debian-archive-keyring.gpg"},
				{Types: []string{"deb"}, URIs: []string{"http://mirror.example/debian-security"}, Suites: []string{"bookworm-security"}, Components: []string{"main"}, Enabled: true},
			},
		},
		{
			name: "continuation lines and case-insensitive names",
			in:   "types: deb deb-src\nuris: http://a.example/debian\n http://b.example/debian\nSUITES: trixie\nComponents: main contrib\nEnabled: no\n",
			want: []Source{
				{Types: []string{"deb", "deb-src"}, URIs: []string{"http://a.example/debian", "http://b.example/debian"}, Suites: []string{"trixie"}, Components: []string{"main", "contrib"}, Enabled: false},
			},
		},
		{
			name: "inline key block",
			in:   "Types: deb\nURIs: http://mirror.example/debian\nSuites: sid\nComponents: main\nSigned-By:\n -----BEGIN PGP PUBLIC KEY BLOCK-----\n .\n abc\n -----END PGP PUBLIC KEY BLOCK-----\n",
			want: []Source{
				{Types: []string{"deb"}, URIs: []string{"http://mirror.example/debian"}, Suites: []string{"sid"}, Components: []string{"main"}, Enabled: true, SignedBy: "\n-----BEGIN PGP PUBLIC KEY BLOCK-----\n.\nabc\n-----END PGP PUBLIC KEY BLOCK-----"},
			},
		},
		{name: "blank lines only", in: "\n  \n\n", want: nil},
		{name: "leading continuation", in: " oops\n", wantErr: true},
		{name: "line without colon", in: "Types deb\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseDeb822(strings.NewReader(tt.in))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %#v\nwant %#v", got, tt.want)
			}
		})
	}
}
