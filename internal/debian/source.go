package debian

import (
	"net/url"
	"slices"
	"strings"
)

// Source is one entry of an apt source list, in either syntax.
type Source struct {
	Types      []string // "deb", "deb-src"
	URIs       []string
	Suites     []string
	Components []string
	Enabled    bool
	// SignedBy is kept verbatim: it is only used to recognise Debian's own
	// keyring, and may legitimately hold an inline key block.
	SignedBy string
}

// knownSuites are Debian's codenames and aliases. A third-party repository
// (Node.js, Docker, ...) also says "deb URI suite main", so the suite name is
// the most reliable hint that an entry points at Debian's archive when the
// entry does not name Debian's keyring.
var knownSuites = map[string]bool{
	"stable": true, "oldstable": true, "oldoldstable": true, "testing": true,
	"unstable": true, "sid": true, "experimental": true,
	"buster": true, "bullseye": true, "bookworm": true, "trixie": true,
	"forky": true, "duke": true,
}

// suiteBase strips the pocket so "bookworm-updates" counts as "bookworm".
func suiteBase(s string) string {
	for _, pocket := range []string{"-updates", "-backports-sloppy", "-backports", "-proposed-updates"} {
		if b, ok := strings.CutSuffix(s, pocket); ok {
			return b
		}
	}
	return s
}

func isSecuritySuite(s string) bool {
	// "bookworm-security" since bullseye; "buster/updates" before it.
	return strings.HasSuffix(s, "-security") || strings.HasSuffix(s, "/updates")
}

// securityOnly reports whether the entry only carries security updates: that
// archive holds a handful of packages, never the kernel we need.
func (s Source) securityOnly(uri string) bool {
	if strings.HasSuffix(strings.TrimRight(uri, "/"), "-security") {
		return true
	}
	if len(s.Suites) == 0 {
		return false
	}
	for _, suite := range s.Suites {
		if !isSecuritySuite(suite) {
			return false
		}
	}
	return true
}

// looksDebian reports whether the entry is Debian's archive rather than a
// third-party repository that happens to use a Debian-like layout.
func (s Source) looksDebian() bool {
	if strings.Contains(s.SignedBy, "debian-archive-keyring") {
		return true
	}
	for _, suite := range s.Suites {
		if knownSuites[suiteBase(suite)] {
			return true
		}
	}
	return false
}

// usableURI reports whether apt-get can fetch from the URI with a plain
// source list; transports such as cdrom: or tor+http need extra setup.
func usableURI(uri string) bool {
	u, err := url.Parse(uri)
	if err != nil || u.Scheme == "" {
		return false
	}
	switch u.Scheme {
	case "http", "https":
		return u.Host != ""
	case "file":
		return u.Path != ""
	}
	return false
}

// mirror returns the entry's archive URI if the entry is a usable Debian
// binary archive.
func (s Source) mirror() (string, bool) {
	if !s.Enabled || !slices.Contains(s.Types, "deb") || !slices.Contains(s.Components, "main") {
		return "", false
	}
	if !s.looksDebian() {
		return "", false
	}
	for _, uri := range s.URIs {
		m := strings.TrimRight(uri, "/")
		if usableURI(m) && !s.securityOnly(m) {
			return m, true
		}
	}
	return "", false
}

// MirrorFrom returns the first usable Debian archive among sources, in order.
func MirrorFrom(sources []Source) (string, bool) {
	for _, s := range sources {
		if m, ok := s.mirror(); ok {
			return m, true
		}
	}
	return "", false
}
