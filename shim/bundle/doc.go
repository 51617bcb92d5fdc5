// Package bundle owns what the shim reads from and keeps in an OCI bundle
// directory: the spec (config.json) and the checks the shim itself makes
// on it before anything is created, the root file system's location, the
// shim's socket address (the address file containerd 1.7 reconnects
// through), and the shim's record of what it created (runxen.json), which
// lets the shim's `delete` action clean up after a shim that died.
//
// Everything here is input from containerd or the user: sizes are bounded
// and every refusal names the field, wrapping containerd's errdefs
// sentinels so that the task service's edge maps it to the right code.
package bundle
