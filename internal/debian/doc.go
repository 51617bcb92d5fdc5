// Package debian finds the Debian archive the host already trusts.
//
// runxen downloads the guest kernel from Debian, and the only mirror we may
// assume reachable is the one the host's apt already uses: corporate proxies,
// local caches and air-gapped mirrors are all expressed there. We parse apt's
// source lists ourselves rather than shelling out to apt because apt has no
// stable machine-readable way to list configured sources, and the formats
// (deb822 and one-line) are small and well specified in sources.list(5).
package debian
