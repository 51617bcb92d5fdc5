//go:build !race

package xen9pfs_test

const raceEnabled = false
