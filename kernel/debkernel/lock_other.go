//go:build !unix

package debkernel

import "context"

// lockFile is a no-op where flock does not exist; the kernel fetcher needs
// apt and dpkg, so it only runs on Debian hosts anyway.
func lockFile(context.Context, string) (func(), error) { return func() {}, nil }
