package agent

import "fmt"

// APIVersion is the version of this API; the agent reports it in VersionResponse and the shim
// refuses an agent that speaks another.
const APIVersion = 1

// VchanPort names the agent's vchan. The agent is the vchan server: it grants its own pages, so
// dom0 spends no grant-allocation quota per guest and only maps what the guest offers.
const VchanPort = "runxen-agent"

// AgentVchanPath is the xenstore directory where the agent in guest domid publishes its vchan
// for dom0, following libxenvchan's convention /local/domain/<server>/data/vchan/<client>/<port>.
func AgentVchanPath(domid uint32) string {
	return fmt.Sprintf("/local/domain/%d/data/vchan/0/%s", domid, VchanPort)
}
