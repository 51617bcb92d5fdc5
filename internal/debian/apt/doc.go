// Package apt runs the host's apt-get with a private, throwaway
// configuration, so that runxen can download Debian packages of any suite
// without reading or disturbing the host's package state.
//
// We drive apt rather than speaking the archive protocol ourselves because
// apt already does what matters and is easy to get wrong: InRelease
// signature verification against Debian's keyring, hash checks of every
// index and package, proxies and mirror authentication. The configuration
// is passed through $APT_CONFIG and redirects every other configuration
// source, so the host's apt hooks never run; only the host's proxy settings
// (Acquire::*::Proxy) are carried over.
package apt
