// Package debpkg fetches a fixed list of Debian packages and unpacks them
// into one file tree, cached, for the guest images to take binaries and
// shared libraries from.
//
// The caller names every package; nothing is resolved automatically, so a
// tree holds exactly what was asked for and an image built from it changes
// only when the list (or the suite's packages) does. Packages are fetched
// with the host's apt-get through a private configuration (package
// internal/debian/apt) and unpacked with dpkg-deb --extract: no maintainer
// script runs, nothing is installed on the host.
package debpkg
