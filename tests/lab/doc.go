// Package lab is runxen's Xen lab: it builds (and caches) a Debian trixie dom0 image with Xen
// 4.20, containerd, dockerd and friends, boots it under QEMU, and gives Go tests a command
// channel into that dom0. None of the project's machines runs Xen, so every end-to-end test
// proves its feature here, against real Xen, containerd and dockerd.
//
// One Lab serves a whole test package: TestMain calls Start once, tests call Run/Sh/WriteFile,
// and CollectOnFailure saves the guest consoles and daemon logs of a failed test. The project's
// freshly built binaries and guest images travel on a small per-boot payload disk, so changing
// project code never rebuilds the cached dom0 image.
package lab
