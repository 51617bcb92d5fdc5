//go:build lab

// Package e2e holds runxen's end-to-end tests. They run in the Xen lab (real Xen, containerd
// and dockerd in a dom0 under QEMU) and only with the `lab` build tag: `make lab-test`.
package e2e

import (
	"testing"

	"github.com/runxen/runxen/tests/lab"
)

func TestMain(m *testing.M) { lab.Main(m) }
