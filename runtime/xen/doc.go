// Package xen is runxen's toolstack driver: it creates, pauses, unpauses,
// destroys, inspects and lists Xen PV domains, and waits for their death,
// behind the small typed Toolstack interface.
//
// What this package owns: the domain lifecycle and the description of a
// domain's shape (DomainConfig: kernel, initramfs, memory, vCPUs, command
// line, name), checked before any toolstack sees it. It does not own what
// runs inside a domain (the guest agent), the vchan to it (package vchan),
// or devices beyond the PV console.
//
// The interface is deliberately small (eight methods, typed arguments) so
// that a faster driver can replace xl later without touching callers: one
// that builds PV domains itself over privcmd and xenstore, as krata does,
// and skips xl's fork, libxl initialisation and config parsing on every
// call. Kata's 35-method Hypervisor interface with untyped arguments is
// what this is not.
//
// # The xl driver and `xl create -e`
//
// XL writes an xl config into a private temporary directory and runs
// `xl create -p -e`: the domain is created paused, so that devices can be
// added before it first runs, and xl exits straight after creating it. The
// default (no -e) leaves one background `xl` monitor process per domain,
// which costs a few MiB of dom0 memory per container, and which destroys
// the domain by itself on power-off, so that its shutdown reason (power
// off or crash) is lost before runxen looks. With -e nobody acts on a
// domain that shuts down: it stays in the shutdown state, its reason
// readable through Info, until its owner calls Destroy. runxen has exactly
// one owner per domain (the shim, or runxen-agentctl), which waits for the
// domain's death (Wait) and always destroys it afterwards; an owner that
// crashes leaves a shut-down domain behind, visible in `xl list`, instead
// of an invisible monitor.
//
// Info and List parse `xl list -v`, the table xl prints from
// libxl_dominfo (state flags, shutdown reason code, memory, online vCPUs,
// CPU time). `xl list -l` is not used: its JSON is the domain's
// configuration (libxl_domain_config) and carries none of the runtime
// state.
//
// # Resizing and scheduling
//
// A domain's vCPUs can be pinned (CPUAffinity: xl.cfg cpus=), weighted
// (CPUWeight: cpu_weight=) and capped (CPUCap: cap=, percent of one CPU)
// at creation, and Resize changes them and its memory and online vCPUs
// later (xl mem-max/mem-set, vcpu-set, sched-credit2, vcpu-pin): what
// `docker update` needs. Memory moves through the guest's balloon driver;
// the ceiling (mem-max) is what Xen enforces whatever the guest does.
// vCPUs can only come online up to MaxVCPUs, fixed at creation.
//
// # Waiting for death
//
// Wait watches xenstore's @releaseDomain, which xenstored fires whenever a
// domain shuts down or is destroyed, and after each event (and once at the
// start, which closes the race with a domain that died before the watch)
// checks the domain's state. It never polls on a timer, and it ends when
// its context does.
//
// # Inputs
//
// Names are 1-64 characters from [A-Za-z0-9._-], not all digits (xl reads
// an all-digit argument as a domain ID). Paths are absolute. Strings that go
// into the xl config are quoted with libxlu's escapes, and control
// characters (a newline would end the setting) are refused, so no input
// can add a setting of its own.
//
// Package xentest holds a fake Toolstack that keeps real state, for unit
// tests of code built on this package.
package xen
