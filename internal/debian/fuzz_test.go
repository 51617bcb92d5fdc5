package debian

import (
	"net/url"
	"strings"
	"testing"
)

// checkMirror asserts the invariant every caller relies on: a mirror we hand
// out is an absolute URL without a trailing slash.
func checkMirror(t *testing.T, sources []Source) {
	m, ok := MirrorFrom(sources)
	if !ok {
		return
	}
	u, err := url.Parse(m)
	if err != nil || u.Scheme == "" || strings.HasSuffix(m, "/") {
		t.Fatalf("MirrorFrom returned unusable %q (err %v)", m, err)
	}
}

func FuzzParseDeb822(f *testing.F) {
	f.Add("Types: deb\nURIs: http://mirror.example/debian\nSuites: trixie\nComponents: main\n")
	f.Add(security822)
	f.Add("Signed-By:\n -----BEGIN-----\n .\n")
	f.Add(" \n#\n:\n")
	f.Fuzz(func(t *testing.T, in string) {
		sources, err := ParseDeb822(strings.NewReader(in))
		if err != nil {
			return
		}
		checkMirror(t, sources)
	})
}

func FuzzParseOneLine(f *testing.F) {
	f.Add("deb [signed-by=/k.gpg] http://mirror.example/debian trixie main\n")
	f.Add("deb-src file:/srv ./\n")
	f.Add("deb [ ] x y\n#z")
	f.Fuzz(func(t *testing.T, in string) {
		sources, err := ParseOneLine(strings.NewReader(in))
		if err != nil {
			return
		}
		for _, s := range sources {
			if len(s.URIs) != 1 || len(s.Suites) != 1 {
				t.Fatalf("one-line entry must have one URI and one suite: %#v", s)
			}
		}
		checkMirror(t, sources)
	})
}
