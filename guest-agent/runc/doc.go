// Package runc drives the guest's runc binary through go-runc: it is the
// real service.Runtime, one runc command per method, as containerd's runc
// shim drives runc.
//
// Why runc, and Debian's: it already honours the whole OCI spec (user and
// groups, umask, rlimits, capabilities, no_new_privileges, seccomp through
// libseccomp, hostname, mounts, readonly rootfs, masked and readonly
// paths, sysctls, oom_score_adj, cgroup v2 resources), and a static Go
// agent cannot link libcontainer without cgo. Debian's package is what the
// initramfs builder ships, with its shared libraries.
//
// What this package owns: the runc command lines (root, log file, pid
// files, console socket, pipe stdio), turning runc's failures into errors
// that carry runc's own message (from its JSON log, not its stderr, which
// with pipe stdio is the container's), and converting the pty master runc
// hands over into a pollable file.
//
// Every command goes through go-runc's runc.Monitor, which the agent sets
// to its reaper (package reaper); nothing here waits for processes itself.
//
// pivot_root: runc is never given --no-pivot. The agent moves the
// initramfs into a tmpfs at boot (sysinit.SwitchRoot), after which
// pivot_root works; see package boot for why.
package runc
