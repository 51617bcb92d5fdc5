package p9

// File is one file of a file system, as the server hands requests to it
// and as the client offers it. The server owns each File it is given: it
// calls Close exactly once, when the last fid using it is clunked (or the
// connection ends), after every other call on it has returned.
//
// Concurrency, as the server calls it: any methods may run concurrently,
// except that Open, Create and the xattr-creating path run alone on a
// File (no other call on the same File overlaps them), I/O (ReadAt,
// WriteAt, FSync, Readdir, Lock, GetLock) is only called after Open or
// Create succeeded, and Close runs alone, last.
//
// Errors: an error carrying a syscall.Errno (errors.As) is sent to the
// client as that errno, exactly; any other error is sent as EIO. Names are
// checked by the server before any method sees them: one path component,
// not empty, ".", "..", no "/" or NUL, at most MaxNameLength bytes.
type File interface {
	// Walk returns a new File for the file reached by names, one QID per
	// name, or an error if any name cannot be walked. With no names it
	// returns a new File for the same file (no QIDs).
	Walk(names []string) ([]QID, File, error)

	// GetAttr returns the file's QID and attributes; the mask says which
	// the caller asked for, the returned mask which are valid.
	GetAttr(mask AttrMask) (QID, AttrMask, Attr, error)
	// SetAttr changes the attributes valid selects (only known bits).
	SetAttr(valid SetAttrMask, attr SetAttr) error
	// StatFS describes the file system holding the file.
	StatFS() (FSStat, error)

	// Open prepares the file for I/O and returns its QID and I/O unit (0:
	// no preference).
	Open(flags OpenFlags) (QID, uint32, error)
	// ReadAt and WriteAt as io.ReaderAt and io.WriterAt, except that a
	// short read needs no error; io.EOF is fine at the end. p belongs to
	// the server's message buffer: it must not be kept after the call.
	ReadAt(p []byte, offset int64) (int, error)
	WriteAt(p []byte, offset int64) (int, error)
	// FSync flushes the file to stable storage, only its data if dataOnly
	// (fdatasync).
	FSync(dataOnly bool) error
	// Readdir returns the entries after offset (0: from the start), as
	// many as fit count bytes of Rreaddir entries; none at the end. Each
	// entry's Offset is where to continue after it.
	Readdir(offset uint64, count uint32) ([]Dirent, error)
	// Lock sets or clears a POSIX record lock, as fcntl(F_SETLK); a lock
	// that cannot be granted now is LockBlocked.
	Lock(flags LockFlags, lock LockInfo) (LockStatus, error)
	// GetLock tests for a conflicting lock, as fcntl(F_GETLK): the
	// conflicting lock, or want with Type Unlock if there is none.
	GetLock(want LockInfo) (LockInfo, error)

	// Create makes the regular file name in this directory and opens it:
	// the returned File replaces this one on the fid.
	Create(name string, flags OpenFlags, mode FileMode, gid GID) (File, QID, uint32, error)
	// Mkdir, Symlink and Mknod make a node name in this directory.
	Mkdir(name string, mode FileMode, gid GID) (QID, error)
	Symlink(target, name string, gid GID) (QID, error)
	Mknod(name string, mode FileMode, major, minor uint32, gid GID) (QID, error)
	// Link makes name in this directory a hard link to target, a File of
	// the same server connection.
	Link(target File, name string) error
	// RenameAt renames oldName in this directory to newName in newDir.
	RenameAt(oldName string, newDir File, newName string) error
	// UnlinkAt removes name from this directory; flags is 0 or
	// AtRemoveDir.
	UnlinkAt(name string, flags uint32) error
	// Readlink returns a symlink's target.
	Readlink() (string, error)

	// Extended attributes. A value or list larger than MaxXattrSize is
	// refused (E2BIG) by the server.
	GetXattr(name string) ([]byte, error)
	ListXattrs() ([]string, error)
	SetXattr(name string, value []byte, flags XattrFlags) error
	RemoveXattr(name string) error

	// Close releases the file.
	Close() error
}

// Remover is implemented by a File that can remove itself (Tremove). Linux
// sends Tremove only when Tunlinkat failed with EOPNOTSUPP; without it the
// server answers EOPNOTSUPP (and clunks the fid, as Tremove always does).
type Remover interface {
	Remove() error
}

// Renamer is implemented by a File that can rename itself (Trename).
// Linux sends Trename only when Trenameat failed with EOPNOTSUPP; without
// it the server answers EOPNOTSUPP.
type Renamer interface {
	Rename(newDir File, newName string) error
}

// Attacher gives the root of a file system to each Tattach.
type Attacher interface {
	// Attach returns the root File for a user: uname as the client named
	// it and uid its numeric id (n_uname; NoUID if the client sent none).
	// Linux attaches once per user of the mount (its access=user
	// default), so uid is who files created through the root belong to.
	// The server walks the attach name (aname) from the returned root.
	Attach(uname string, uid UID) (File, error)
}
