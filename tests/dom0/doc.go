// Package dom0 holds tests that run inside the Xen lab's dom0, as root,
// against real Xen: they create guests with the xl driver, connect to the
// guest agent over vchan and check what it does. They build only with the
// `dom0` tag, into a test binary the lab ships to dom0
// (/lab/payload/bin/tests/dom0.test); tests/e2e/agent_test.go runs each of
// them there as a subtest.
//
//	go test -c -tags dom0 -o bin/tests/dom0.test ./tests/dom0
//
// Guest images come from $RUNXEN_GUEST_DIR, by default the lab's
// /lab/payload/bin/guest: vmlinuz, agent-test.initramfs (the agent with a
// busybox root file system at /rootfs/busybox) and hello.initramfs (a guest
// with no agent, which powers off).
//
// Everything in the lab is 10-50 times slower than on hardware: the tests
// bound every wait generously and never assert on timing; they log the
// timings they measure.
package dom0
