package lab

import "github.com/runxen/runxen/internal/debian"

// debianMirror is a variable so unit tests never consult the host's apt configuration.
var debianMirror = debian.Mirror
