// Package cgroup reads a container's cgroup v2 directory inside the guest:
// its resource figures (cpu.stat, memory.*, pids.*, io.stat), its member
// processes (cgroup.procs), and OOM kills (memory.events, watched with
// inotify).
//
// Why not containerd/cgroups: the agent needs a dozen files of one
// directory, and the parsers here are small enough to fuzz. The files are
// written by the guest's kernel, which the agent trusts, but the parsers
// still reject anything malformed with an error naming the file and line
// instead of guessing, and never panic (fuzzed), because a wrong figure
// silently reported is worse than a visible error.
//
// Units are the kernel's: microseconds for CPU, bytes for memory and I/O.
// A limit of "max" is reported as math.MaxUint64, as containerd's cgroups
// library reports it, so the host can pass it on unchanged.
package cgroup
