package sandbox

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"

	"github.com/containerd/errdefs"

	"github.com/runxen/runxen/runtime/xen"
)

// maxIDLen is containerd's limit on identifiers, which the agent applies
// too.
const maxIDLen = 76

// idRE is containerd's identifier grammar: letters and digits, with single
// '.', '_' or '-' between them. It makes an ID safe in a domain name and
// a path component.
var idRE = regexp.MustCompile(`^[A-Za-z0-9]+(?:[._-][A-Za-z0-9]+)*$`)

func checkID(what, id string) error {
	if id == "" || len(id) > maxIDLen || !idRE.MatchString(id) {
		return fmt.Errorf("%s %.80q: want 1 to %d letters and digits with single '.', '_' or '-' between them: %w",
			what, id, maxIDLen, errdefs.ErrInvalidArgument)
	}
	return nil
}

// namePrefix starts every runxen domain's name.
const namePrefix = "runxen-"

// DomainName is the name of the domain of sandbox id in namespace (see
// the package doc). Both must be valid identifiers.
func DomainName(namespace, id string) string {
	n := namePrefix + namespace + "-" + id
	if len(n) <= xen.MaxNameLen {
		return n
	}
	sum := sha256.Sum256([]byte(namespace + "/" + id))
	tag := hex.EncodeToString(sum[:4])
	ns := namespace
	if len(ns) > 16 {
		ns = ns[:16]
	}
	room := xen.MaxNameLen - len(namePrefix) - len(ns) - 1 - 1 - len(tag)
	cut := id
	if len(cut) > room {
		cut = cut[:room]
	}
	return namePrefix + ns + "-" + cut + "-" + tag
}
