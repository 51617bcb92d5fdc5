// Package kmod reads Linux kernel module trees (lib/modules/VERSION): module
// naming, compressed module files, modules.dep and modules.builtin, and the
// .modinfo section that dependency information comes from.
//
// We do this ourselves instead of calling kmod's depmod and modprobe because
// the guest images are built on hosts that may not have kmod installed, for
// a kernel (Debian's trixie) whose modules the host's tools are not required
// to understand, and because image builds must not depend on host state.
// Debian's kernel packages do not ship modules.dep (postinst runs depmod), so
// GenerateDep rebuilds it from the modules themselves.
package kmod
