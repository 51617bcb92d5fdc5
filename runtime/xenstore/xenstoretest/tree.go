package xenstoretest

import (
	"strconv"
	"strings"
)

// Limits from xs_wire.h, restated here so the fake does not share code
// (and therefore bugs) with the client it tests.
const (
	payloadMax = 4096 // XENSTORE_PAYLOAD_MAX
	absPathMax = 3072 // XENSTORE_ABS_PATH_MAX
	relPathMax = 2048 // XENSTORE_REL_PATH_MAX
)

// Permission bits, as xenstored's XS_PERM_*.
const (
	permRead  = 1
	permWrite = 2
	permOwner = 4
	permAll   = permRead | permWrite | permOwner
)

// perm is one permission entry: access char n/r/w/b and a domid.
type perm struct {
	access byte
	domid  uint32
}

func (p perm) String() string {
	return string(rune(p.access)) + strconv.FormatUint(uint64(p.domid), 10)
}

func parsePerm(s string) (perm, bool) {
	if len(s) < 2 || len(s) > 11 || !strings.ContainsRune("nrwb", rune(s[0])) {
		return perm{}, false
	}
	for i := 1; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return perm{}, false
		}
	}
	d, err := strconv.ParseUint(s[1:], 10, 32)
	if err != nil {
		return perm{}, false
	}
	return perm{access: s[0], domid: uint32(d)}, true
}

func accessBits(a byte) int {
	switch a {
	case 'r':
		return permRead
	case 'w':
		return permWrite
	case 'b':
		return permRead | permWrite
	}
	return 0
}

// node is one xenstore node. Children keep insertion order, as C
// xenstored's do.
type node struct {
	name     string
	value    []byte
	perms    []perm
	children []*node
	// gen changes whenever the node changes (value, permissions, child
	// list); DIRECTORY_PART reports it so readers notice a moving list.
	gen uint64
}

func (n *node) child(name string) *node {
	for _, c := range n.children {
		if c.name == name {
			return c
		}
	}
	return nil
}

func (n *node) removeChild(name string) {
	for i, c := range n.children {
		if c.name == name {
			n.children = append(n.children[:i:i], n.children[i+1:]...)
			return
		}
	}
}

func (n *node) clone() *node {
	m := &node{
		name:  n.name,
		value: append([]byte(nil), n.value...),
		perms: append([]perm(nil), n.perms...),
		gen:   n.gen,
	}
	if len(n.children) > 0 {
		m.children = make([]*node, len(n.children))
		for i, c := range n.children {
			m.children[i] = c.clone()
		}
	}
	return m
}

// walk calls fn for n and every node beneath it, with absolute paths.
func (n *node) walk(path string, fn func(path string, n *node)) {
	fn(path, n)
	for _, c := range n.children {
		c.walk(join(path, c.name), fn)
	}
}

func join(parent, name string) string {
	if parent == "/" {
		return "/" + name
	}
	return parent + "/" + name
}

func parentOf(abs string) string {
	i := strings.LastIndexByte(abs, '/')
	if i <= 0 {
		return "/"
	}
	return abs[:i]
}

func components(abs string) []string {
	if abs == "/" {
		return nil
	}
	return strings.Split(abs[1:], "/")
}

// isChild reports whether child is parent or beneath it, the matching rule
// for watches in docs/misc/xenstore.txt.
func isChild(child, parent string) bool {
	if parent == "/" {
		return strings.HasPrefix(child, "/")
	}
	return child == parent || strings.HasPrefix(child, parent+"/")
}

func validPathChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '-' || c == '/' || c == '_' || c == '@'
}

// validNodePath checks an absolute, canonical node path.
func validNodePath(p string) bool {
	if p == "/" {
		return true
	}
	if len(p) < 2 || p[0] != '/' || len(p) > absPathMax || p[len(p)-1] == '/' || strings.Contains(p, "//") {
		return false
	}
	for i := 0; i < len(p); i++ {
		if !validPathChar(p[i]) {
			return false
		}
	}
	return true
}

// domainPath is GET_DOMAIN_PATH's answer and the base of relative paths.
func domainPath(domid uint32) string {
	return "/local/domain/" + strconv.FormatUint(uint64(domid), 10)
}

func parseDomid(s string) (uint32, bool) {
	if s == "" || len(s) > 5 {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	d, err := strconv.ParseUint(s, 10, 16)
	if err != nil {
		return 0, false
	}
	return uint32(d), true
}
