package netns

import (
	"fmt"
	"os"

	"github.com/containerd/errdefs"
	"golang.org/x/sys/unix"
)

// nsGetNSType is NS_GET_NSTYPE, _IO(0xb7, 0x3) in <linux/nsfs.h>, which
// golang.org/x/sys does not define.
const nsGetNSType = 0xb703

// openNetNS opens the namespace file a spec names and checks that it is a
// network namespace, so a wrong path fails here with its name rather than
// as an EINVAL from setns in the holder.
func openNetNS(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("network namespace %s: %w", path, wrapNotFound(err))
	}
	var st unix.Statfs_t
	if err := unix.Fstatfs(int(f.Fd()), &st); err != nil {
		f.Close()
		return nil, fmt.Errorf("network namespace %s: statfs: %w", path, err)
	}
	if st.Type != unix.NSFS_MAGIC {
		f.Close()
		return nil, fmt.Errorf("network namespace %s: not a namespace file (filesystem magic %#x): %w",
			path, st.Type, errdefs.ErrInvalidArgument)
	}
	typ, err := unix.IoctlRetInt(int(f.Fd()), nsGetNSType)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("network namespace %s: NS_GET_NSTYPE: %w", path, err)
	}
	if typ != unix.CLONE_NEWNET {
		f.Close()
		return nil, fmt.Errorf("network namespace %s: a namespace of another type (%#x): %w",
			path, typ, errdefs.ErrInvalidArgument)
	}
	return f, nil
}

func wrapNotFound(err error) error {
	if os.IsNotExist(err) {
		return fmt.Errorf("%w: %w", err, errdefs.ErrNotFound)
	}
	return err
}

type nsID struct{ dev, ino uint64 }

func idOfFile(f *os.File) (nsID, error) {
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return nsID{}, fmt.Errorf("stat %s: %w", f.Name(), err)
	}
	return nsID{st.Dev, st.Ino}, nil
}

func idOfPath(path string) (nsID, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return nsID{}, fmt.Errorf("stat %s: %w", path, err)
	}
	return nsID{st.Dev, st.Ino}, nil
}

// checkNetNS says whether the namespace at procPath (the holder's) is the
// one the mode asked for: target's when joining, the shim's own for the
// host's, and anything else when creating.
func checkNetNS(mode Mode, target *os.File, procPath string) error {
	got, err := idOfPath(procPath)
	if err != nil {
		return err
	}
	self, err := idOfPath("/proc/self/ns/net")
	if err != nil {
		return err
	}
	switch mode {
	case ModeJoin:
		want, err := idOfFile(target)
		if err != nil {
			return err
		}
		if got != want {
			return fmt.Errorf("%s is namespace %d, want %s's %d", procPath, got.ino, target.Name(), want.ino)
		}
	case ModeCreate:
		if got == self {
			return fmt.Errorf("%s is still the shim's namespace %d", procPath, got.ino)
		}
	case ModeHost:
		if got != self {
			return fmt.Errorf("%s is namespace %d, want the shim's %d", procPath, got.ino, self.ino)
		}
	}
	return nil
}
