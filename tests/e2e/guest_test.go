//go:build lab

package e2e

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/runxen/runxen/tests/lab"
)

// TestGuestRunsOurInit is the lab's first proof: a PV domain boots the project's guest kernel
// with an initramfs whose init is runxen-hello, that program reports from inside the guest, and
// the domain leaves nothing behind once it has powered off.
func TestGuestRunsOurInit(t *testing.T) {
	l := lab.Get(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	g := lab.GuestConfig{
		Name:      fmt.Sprintf("hello-%d", time.Now().UnixNano()%100000),
		Kernel:    lab.PayloadGuestDir + "/vmlinuz",
		Ramdisk:   lab.PayloadGuestDir + "/hello.initramfs",
		Cmdline:   "console=hvc0 quiet",
		MemoryMiB: 128,
		VCPUs:     1,
	}
	run, err := l.RunGuest(ctx, g, "RUNXEN_HELLO_OK", 5*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("domain %d: xl create %s, guest boot to init output %s, power-off to gone %s",
		run.DomID, run.Create, run.Boot, run.Gone)

	if strings.Contains(run.Console, "RUNXEN_HELLO_FAIL") {
		t.Fatalf("runxen-hello reported a failure:\n%s", run.Console)
	}
	m := regexp.MustCompile(`runxen-hello: hypervisor=(\S*) kernel=(\S+) uptime=(\S+) modules=(\d+)`).FindStringSubmatch(run.Console)
	if m == nil {
		t.Fatalf("no report line from runxen-hello on the guest console:\n%s", run.Console)
	}
	if m[1] != "xen" {
		t.Errorf("guest sees hypervisor %q, want xen", m[1])
	}
	if m[4] == "0" {
		t.Errorf("runxen-hello loaded no kernel modules; the initramfs should carry the Xen frontends")
	}
	dom0Kernel := strings.TrimSpace(l.MustSh(t, "uname -r"))
	t.Logf("guest kernel %s (dom0 %s), guest uptime at report %ss, %s modules loaded", m[2], dom0Kernel, m[3], m[4])

	assertNoDomainLeftovers(t, l, run.DomID, g.Name)
}

// assertNoDomainLeftovers checks that xl and xenstore have forgotten a domain.
func assertNoDomainLeftovers(t *testing.T, l *lab.Lab, domid int, name string) {
	t.Helper()
	if out := l.MustSh(t, "xl list | awk 'NR>1 {print $1}'"); strings.TrimSpace(out) != "Domain-0" {
		t.Errorf("xl list still shows domains besides Domain-0:\n%s", out)
	}
	if out := l.MustSh(t, "xenstore-list /local/domain"); strings.TrimSpace(out) != "0" {
		t.Errorf("xenstore /local/domain still lists: %q", out)
	}
	if domid >= 0 {
		out := l.MustSh(t, fmt.Sprintf(
			"xenstore-ls -f / 2>/dev/null | grep -E '^/(libxl|local/domain/0/backend/[^/]+)/%d(/| )' || true", domid))
		if strings.TrimSpace(out) != "" {
			t.Errorf("xenstore still holds nodes of domain %d:\n%s", domid, out)
		}
	}
	if out := l.MustSh(t, "xenstore-ls -f /vm 2>/dev/null | grep -F \"name = \\\""+name+"\\\"\" || true"); strings.TrimSpace(out) != "" {
		t.Errorf("xenstore /vm still holds domain %s: %s", name, out)
	}
}
