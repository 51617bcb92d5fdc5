// Package stdio holds a container process's standard streams inside the
// agent: a bounded output buffer per stream that the host drains with
// long-polling reads, and a stdin writer that honours the caller's context.
//
// Output policy: back-pressure, never loss. The agent reads a process's
// pipe (or pseudo-terminal) only while that stream's buffer has room; when
// the host is slow, the buffer fills, the agent stops reading, the pipe
// fills, and the process blocks in write(2), exactly as it would writing to
// a slow terminal. Dropping output instead would silently corrupt logs.
//
// Why 1 MiB per stream (DefaultLimit): it is the largest reply the API
// allows (ReadStreamRequest.max_len is capped at 1 MiB), so one read can
// empty a full buffer, and it matches the guest's vchan send ring (see
// package server), so a full buffer crosses to dom0 in one ring's worth.
// The buffer grows on demand in chunks, so an idle or quiet stream costs
// next to nothing; a guest with a few streams in flight pays at most a few
// MiB.
//
// End of stream: Read reports eof only when the source has ended (the
// pipe's writers are all gone, or the pty's slave side hung up) and every
// buffered byte has been returned.
package stdio
