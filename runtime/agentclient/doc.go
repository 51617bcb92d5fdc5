// Package agentclient connects dom0 to the agent in a guest: it waits for
// the agent's vchan, dials it, speaks ttrpc over it, and gives callers the
// agent's typed API (agent.AgentService) with per-call timeouts.
//
// What this package owns: finding the agent (the vchan the agent serves
// at agent.AgentVchanPath(domid), waited for with a xenstore watch), the
// connection's life (it ends when the domain dies, when the agent closes
// its end, when the agent breaks the protocol, or on Close, and says which),
// the API version check, and small helpers for stdio and OCI specs. It does
// not create or destroy domains (package xen) and knows nothing of
// containerd.
//
// The guest is untrusted. Everything that could make a caller wait on it
// is bounded:
//
//   - Connect waits for the vchan only as long as its context allows, and
//     fails at once if the domain dies meanwhile (the toolstack's Wait:
//     @releaseDomain plus a state check).
//   - Calls that should answer promptly get Config.CallTimeout; the calls
//     that wait for a process (WaitProcess, ReadStdout, ReadStderr,
//     WriteStdin, GetOOMEvent) get none, and end with their context, the
//     process, or the connection.
//   - When the domain dies, the connection fails with an error wrapping
//     ErrDomainGone that says how it died, and every pending and later
//     call fails with it.
//   - Every frame the agent sends is checked before ttrpc reads it (length
//     within ttrpc's 4 MiB, a response or data type, a stream the client
//     opened): ttrpc alone would skip a frame on an unknown stream and
//     wait to discard an oversized one, letting a hostile guest feed it
//     garbage indefinitely. The first bad frame fails the connection with
//     ErrProtocol.
//
// Errors name the domain and the call ("agent in domain 5 did not answer
// CreateContainer within 30s: context deadline exceeded"), and wrap the
// sentinels here, context errors and ttrpc's, so callers test them with
// errors.Is.
package agentclient
