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
	// Files are extra files to copy in.
	Files []File
	// Dirs are extra directories; their parents are created with mode
	// 0755 unless listed too.
	Dirs []Dir
	// Symlinks are symbolic links to create.
	Symlinks []Symlink
	// MergedUsr makes /bin, /sbin, /lib and /lib64 links into /usr, as on
	// Debian since bookworm, instead of creating /sbin as a directory.
	// Files must then be placed under /usr.
	MergedUsr bool
	// Compression is how the archive is compressed; empty means Gzip.
	Compression Compression
}

// File is a file to place in the guest: a host file, or Data.
type File struct {
	// Src is the host file to copy; if empty, the file holds Data.
	Src string
	Dst string // absolute guest path
	// Mode holds permission bits (and setuid, setgid, sticky); zero keeps
	// the source file's permissions, or means 0644 for Data.
	Mode os.FileMode
	// Data is the file's content when Src is empty.
	Data []byte
}

// Dir is a directory to create in the guest.
type Dir struct {
	Path string      // absolute guest path
	Mode os.FileMode // permission bits, with setuid, setgid and sticky
}

// Symlink is a symbolic link to create in the guest.
type Symlink struct {
	Path   string // absolute guest path
	Target string // as stored: relative to the link's directory, or absolute
}

// Compression names a compressor the kernel can unpack an initramfs with
// (CONFIG_RD_GZIP, CONFIG_RD_ZSTD).
type Compression string

// Supported compressions.
const (
	Gzip Compression = "gzip"
	Zstd Compression = "zstd"
)

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
