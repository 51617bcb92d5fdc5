// Command containerd-shim-xen-v1 is runxen's containerd shim (runtime type
// io.containerd.xen.v1): containerd starts it for each container, and it
// runs the container in a Xen PV guest. See docs/design/shim.md.
package main

import (
	"context"

	"github.com/containerd/containerd/v2/pkg/shim"

	"github.com/runxen/runxen/shim/manager"
	"github.com/runxen/runxen/shim/plugin"
)

func main() {
	plugin.Register()
	shim.Run(context.Background(), manager.New("io.containerd.xen.v1", plugin.Cleanup), func(c *shim.Config) {
		// The shim's children (hooks, logging binaries, the network
		// namespace holder) are reaped by the code that starts them;
		// pkg/shim's reaper would steal their exit statuses, and no
		// container process runs on the host to need a subreaper.
		c.NoReaper = true
		c.NoSubreaper = true
	})
}
