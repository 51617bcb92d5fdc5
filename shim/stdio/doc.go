// Package stdio connects a guest process's standard streams to where
// containerd wants them: the FIFOs its clients create (Docker, ctr,
// nerdctl attach), a log file (file:// URI), or a logging binary the shim
// starts (binary:// URI, nerdctl's default), as containerd's runc shim
// supports them. It copies with runtime/agentclient's CopyOutput and
// CopyStdin over the agent's long-poll stream calls.
//
// What this package owns: opening and closing the host ends, the copy
// goroutines, forwarding a client's end of stdin (CloseIO) to the guest,
// and knowing when a process's output has been fully delivered, so that
// the task service publishes a process's exit only after its last byte
// (docker logs and docker run --rm must see everything).
//
// A process's output is always drained from the agent, also when nobody
// asked for it: the agent stops reading a pipe whose buffer is full, so an
// undrained stream would block the process.
package stdio
