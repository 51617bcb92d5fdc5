// Package debkernel fetches the guest kernel from Debian's archive and keeps
// it in a local cache.
//
// The runxen guest boots Debian's stock linux-image package: it is built with
// XEN_PV, signed, security-supported, and already packaged with its modules,
// so there is no kernel for us to build or patch. We drive the host's own
// apt-get rather than speaking the archive protocol ourselves because apt
// already does what matters and is easy to get wrong: InRelease signature
// verification against Debian's keyring, hash checks of every index and
// package, proxies and mirror authentication. apt runs with a private,
// throwaway configuration so that fetching a trixie kernel on a bookworm host
// neither reads nor disturbs the host's package state, and never runs the
// host's apt hooks.
package debkernel
