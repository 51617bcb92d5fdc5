package debian

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseOneLine(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []Source
		wantErr bool
	}{
		{
			name: "plain and commented",
			in:   "# comment\ndeb http://mirror.example/debian bookworm main contrib # trailing\n\n#deb http://old.example/debian buster main\n",
			want: []Source{{Types: []string{"deb"}, URIs: []string{"http://mirror.example/debian"}, Suites: []string{"bookworm"}, Components: []string{"main", "contrib"}, Enabled: true}},
		},
		{
			name: "options with spaces inside brackets",
			in:   "deb [ arch=amd64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg ] https://mirror.example/debian/ trixie main\n",
			want: []Source{{Types: []string{"deb"}, URIs: []string{"https://mirror.example/debian/"}, Suites: []string{"trixie"}, Components: []string{"main"}, Enabled: true, SignedBy: "/usr/share/keyrings/debian-archive-keyring.gpg"}},
		},
		{
			name: "deb-src flat repository",
			in:   "deb-src file:/srv/repo ./\n",
			want: []Source{{Types: []string{"deb-src"}, URIs: []string{"file:/srv/repo"}, Suites: []string{"./"}, Components: []string{}, Enabled: true}},
		},
		{name: "unknown type", in: "rpm http://x.example/ a b\n", wantErr: true},
		{name: "unterminated options", in: "deb [arch=amd64 http://x.example/ a b\n", wantErr: true},
		{name: "missing suite", in: "deb http://x.example/\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseOneLine(strings.NewReader(tt.in))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %#v\nwant %#v", got, tt.want)
			}
		})
	}
}
