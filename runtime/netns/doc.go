// Package netns owns the host side of a container's network namespace: a
// holder process parked in it, whose PID is the task's PID.
//
// A runxen container runs in a Xen guest, so there is no container
// process on the host for the tools around containerd to point at. They
// still need one: the OCI state handed to hooks carries a pid, Docker
// 26's libnetwork-setkey prestart hook and nerdctl's createRuntime hook
// open /proc/<state.pid>/ns/net, Docker 28 calls SetKey on
// /proc/<task pid>/ns/net, and containerd reports the task's pid. The
// holder is that process. What it does not do is carry the namespace's
// interfaces into the guest; that is the networking layer's job, which
// can open NetNSPath while the holder lives.
//
// # Which namespace (spec linux.namespaces)
//
//   - A network entry with a path (CRI's pinned /var/run/netns/cni-...,
//     nerdctl, Docker's --network container:x): the holder joins it. The
//     path must be absolute and name a network namespace (checked with
//     NS_GET_NSTYPE before any process starts).
//   - A network entry without a path (Docker, ctr): the holder is created
//     in a new, empty namespace (loopback down, as the kernel makes it; the
//     guest has its own loopback).
//   - No network entry: the container shares the runtime's network, as
//     with runc. The holder stays in the host's namespace, NetNSPath is ""
//     (there is nothing of the container's own to configure), and
//     /proc/<pid>/ns/net is the host's. This is what `docker run
//     --network host` produces.
//   - Two network entries: an error naming the second.
//
// The namespace is created or joined in the holder's init namespace; a
// user namespace in the spec is the guest's business, not the holder's.
//
// # The holder program
//
// The holder is the calling binary itself, re-executed through
// /proc/self/exe with argv[0] "runxen-netns-holder", argv[1] the id and
// an environment naming the id; an init function in this package
// recognises that and never returns to the program's main, so any binary
// that imports this package (the shim, a test binary) can hold a
// namespace without its main knowing. For a new namespace the kernel
// creates it in the fork (CLONE_NEWNET); to join one, the holder gets the
// namespace file as a descriptor and calls setns from init, where the Go
// runtime still keeps the main goroutine on the main thread, the thread
// whose namespace /proc/<pid>/ns/net shows. It then reports "ready" on a
// pipe, and NewHolder checks /proc/<pid>/ns/net's identity against what
// was asked before it returns.
//
// Why not fork from a goroutine locked to a thread that was moved into the
// namespace, so the child inherits it? Go's os/exec has no way to run a
// setns in the child before exec, so the parent thread itself would have
// to enter the namespace and come back; a thread that cannot come back
// must die, and with it (see below) every holder forked from it. The
// re-exec keeps all namespace changes inside the holder, which has
// nothing else to lose. It costs one execve and an idle Go runtime: about
// 1 MiB of anonymous memory per holder, measured with the shim binary
// (its code pages are the shim binary's, shared with every shim and
// holder on the host; TestHolderCost logs the figures for the test
// binary).
//
// # Dying with the shim
//
// A holder must not outlive its shim, and two independent mechanisms see
// to it:
//
//   - PR_SET_PDEATHSIG(SIGKILL). Linux sends it when the thread that
//     forked the holder exits, not when its process does, and the Go
//     runtime does end threads (a goroutine that exits locked takes its
//     thread along). So holders are forked from one goroutine locked to
//     its thread that never returns (forker_linux.go).
//   - A lifeline: the holder blocks reading a pipe whose only write end
//     the shim holds (close-on-exec, so hooks and other children never get
//     it). When the shim dies the kernel closes it and the holder reads
//     EOF and exits.
//
// Close kills the holder with SIGKILL and reaps it. The holder mounts
// nothing and writes no file: the namespace it creates lives exactly as
// long as the holder and whatever references others took (Docker
// bind-mounts it under its own netns directory; CNI's namespaces are
// pinned by their creator). Nothing under /run/runxen/netns is made, so a
// crash leaves no mount to undo. Cleanup, for the shim's `delete` action,
// still looks for holders of an id that outlived the process that started
// them (their parent pid is no longer the one recorded in their
// environment) and kills them; it spares a live shim's holder, even for
// the same id in another containerd namespace.
//
// Processes are tracked by pidfd (os.Process does on Linux; Cleanup opens
// its own), so a recycled pid is never signalled.
//
// What `ps` shows: the holder's command line is "runxen-netns-holder
// <id>" and its command name "runxen-netns", which is what `docker top`
// lists for a runxen container (docs/design/hooks-and-netns.md).
package netns
