package ocispec

import (
	"os"
	"testing"
)

func TestOSHostTmpfs(t *testing.T) {
	if ok, size, err := (OSHost{}).Tmpfs("/proc"); err != nil || ok || size != 0 {
		t.Errorf("Tmpfs(/proc) = %v, %d, %v; want not a tmpfs", ok, size, err)
	}
	if _, _, err := (OSHost{}).Tmpfs("/nonexistent/x"); !os.IsNotExist(err) {
		t.Errorf("Tmpfs of a missing path: %v", err)
	}
	ok, size, err := (OSHost{}).Tmpfs("/dev/shm")
	if err != nil {
		t.Skipf("no /dev/shm here: %v", err)
	}
	if ok && size == 0 {
		t.Errorf("Tmpfs(/dev/shm) = %v, %d", ok, size)
	}
}
