package sandbox

import (
	"fmt"
	"testing"

	agent "github.com/runxen/runxen/guest-agent/api/v1"
	"github.com/runxen/runxen/runtime/agentclient/agenttest"
	"github.com/runxen/runxen/runtime/xen"
)

// TestRealShares runs Create and Destroy over runtime/shares itself (its
// xen9pfs backend and sharefs file servers), the guest connecting each
// 9pfs device as Linux does (xen9pfstest): the devices exist before the
// guest runs, the guest finds one per share, and after Destroy no device
// node, grant mapping or event channel is left.
func TestRealShares(t *testing.T) {
	e := newEnv(t)
	e.real = true
	var fake *agenttest.Agent
	devices := map[string]int{}
	e.ts.agent = func() agent.AgentService { fake = agenttest.New(); return fake }
	e.ts.onBoot = func(id xen.DomID) {
		// What the guest finds when it first runs: one device per share,
		// tagged.
		for _, d := range e.xs.Directory(fmt.Sprintf("/local/domain/%d/device/9pfs", id)) {
			tag, _ := e.xs.Read(fmt.Sprintf("/local/domain/%d/device/9pfs/%s/tag", id, d))
			devices[string(tag)]++
		}
	}
	ctx := ctxT(t)
	s, err := Create(ctx, e.config("c1"), e.container("c1", "true"))
	must(t, err)
	for _, tag := range []string{"rootfs", "vol0", "files-rw"} {
		if devices[tag] != 1 {
			t.Errorf("share %s: %d devices at boot", tag, devices[tag])
		}
		if fake.Mounts()[tag] == nil {
			t.Errorf("share %s not mounted in the guest", tag)
		}
	}
	if len(devices) != 3 {
		t.Errorf("devices at boot: %v", devices)
	}
	g := e.ts.guest(s.DomID())
	for _, f := range g.fronts {
		if err := f.Err(); err != nil {
			t.Errorf("frontend %s saw a violation: %v", f.Tag(), err)
		}
	}
	must(t, s.Destroy(ctx))
	e.nothingLeft(t)
}
