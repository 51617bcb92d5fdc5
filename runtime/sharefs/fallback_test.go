//go:build linux

package sharefs

import "testing"

// TestOlderKernelFallbacks runs the operation and escape suites again with
// the calls newer than dom0's oldest supported kernel switched off: chmod
// then goes through the /proc magic link instead of fchmodat2 (Linux 6.6),
// and walks through openat instead of openat2 (Linux 5.6).
func TestOlderKernelFallbacks(t *testing.T) {
	defer noFchmodat2.Store(noFchmodat2.Load())
	defer noOpenat2.Store(noOpenat2.Load())
	noFchmodat2.Store(true)
	noOpenat2.Store(true)
	t.Run("operations", TestOperations)
	t.Run("escape through symlinks", TestEscapeThroughSymlinks)
	t.Run("directory swapped for a symlink", TestEscapeDirectorySwappedForSymlink)
	t.Run("swap race", TestEscapeSwapRace)
}
