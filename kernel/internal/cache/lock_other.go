//go:build !unix

package cache

import "context"

// Lock is a no-op where flock does not exist; the fetchers need apt and
// dpkg, so they only run on Debian hosts anyway.
func Lock(context.Context, string, func()) (func(), error) { return func() {}, nil }
