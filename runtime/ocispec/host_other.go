//go:build !linux

package ocispec

// Tmpfs: no tmpfs off Linux; a /dev/shm bind is then an ordinary share.
func (OSHost) Tmpfs(path string) (bool, uint64, error) { return false, 0, nil }
