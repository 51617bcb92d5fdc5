package initramfs

import "os"

// Spec says what goes into an initramfs.
type Spec struct {
	// Init is the host path of the static binary that becomes /init.
	Init string
	// KernelVersion names /lib/modules/KernelVersion in the guest.
	KernelVersion string
	// ModulesDir is the host's lib/modules/KernelVersion tree, with a
	// modules.dep.
	ModulesDir string
	// Modules are module names ('-' and '_' are equivalent); their
	// dependencies are added. Modules load in this order, dependencies
	// first, which is how soft dependencies are expressed.
	Modules []string
	// Files are extra host files to copy in.
	Files []File
}

// File is a host file to place in the guest.
type File struct {
	Src string
	Dst string // absolute guest path
	// Mode holds permission bits (and setuid, setgid, sticky); zero keeps
	// the source file's permissions.
	Mode os.FileMode
}

// DefaultModules are the modules a runxen guest needs, checked against
// Debian trixie's 6.12 kernel, where all of them are modules (the console,
// xenbus and XEN_PV itself are built in).
var DefaultModules = []string{
	// ext4, jbd2 and libcrc32c (pulled in by erofs) only name crc32c as a
	// soft dependency, which modules.dep does not record, and there is no
	// modprobe in the guest for the crypto API to call: without this first,
	// libcrc32c fails to load and ext4 cannot mount checksummed file systems.
	"crc32c_generic",
	"xen-evtchn",
	"xen-gntdev",
	"xen-gntalloc",
	"xen-blkfront",
	"xen-netfront",
	"9pnet_xen",
	"9p",
	"overlay",
	"erofs",
	"ext4",
}
