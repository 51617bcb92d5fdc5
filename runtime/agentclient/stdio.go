package agentclient

import (
	"context"
	"errors"
	"fmt"
	"io"

	agent "github.com/runxen/runxen/guest-agent/api/v1"
)

// Stream names a process's output stream.
type Stream int

const (
	Stdout Stream = iota + 1
	Stderr
)

func (s Stream) String() string {
	if s == Stderr {
		return "stderr"
	}
	return "stdout"
}

// ReadChunk is how much one ReadStdout/ReadStderr call asks for: the
// agent's cap, a quarter of ttrpc's message limit.
const ReadChunk = 1 << 20

// WriteChunk is how much one WriteStdin call carries.
const WriteChunk = 256 << 10

// CopyOutput copies one output stream of a process (execID "" for the
// container's init) to w until the agent reports its end, and returns the
// number of bytes copied. It fails if a call fails, if w does, or if the
// agent returns more than was asked for.
func CopyOutput(ctx context.Context, svc agent.AgentService, w io.Writer, s Stream, containerID, execID string) (int64, error) {
	read := svc.ReadStdout
	if s == Stderr {
		read = svc.ReadStderr
	}
	req := &agent.ReadStreamRequest{ContainerId: containerID, ExecId: execID, MaxLen: ReadChunk}
	var n int64
	for {
		resp, err := read(ctx, req)
		if err != nil {
			return n, fmt.Errorf("read %s of %s: %w", s, procName(containerID, execID), err)
		}
		if len(resp.Data) > ReadChunk {
			return n, fmt.Errorf("read %s of %s: %w: %d bytes returned for %d asked", s, procName(containerID, execID), ErrProtocol, len(resp.Data), ReadChunk)
		}
		if len(resp.Data) > 0 {
			m, err := w.Write(resp.Data)
			n += int64(m)
			if err != nil {
				return n, fmt.Errorf("copy %s of %s: %w", s, procName(containerID, execID), err)
			}
		}
		if resp.Eof {
			return n, nil
		}
	}
}

// CopyStdin writes what r yields to a process's stdin, then, if closeAtEOF,
// closes its stdin. It returns the number of bytes the agent took.
func CopyStdin(ctx context.Context, svc agent.AgentService, r io.Reader, containerID, execID string, closeAtEOF bool) (int64, error) {
	buf := make([]byte, WriteChunk)
	var n int64
	for {
		m, rerr := r.Read(buf)
		if m > 0 {
			w, err := WriteStdin(ctx, svc, buf[:m], containerID, execID)
			n += int64(w)
			if err != nil {
				return n, err
			}
		}
		if errors.Is(rerr, io.EOF) {
			break
		}
		if rerr != nil {
			return n, fmt.Errorf("stdin of %s: %w", procName(containerID, execID), rerr)
		}
	}
	if !closeAtEOF {
		return n, nil
	}
	if _, err := svc.CloseStdin(ctx, &agent.ProcessRequest{ContainerId: containerID, ExecId: execID}); err != nil {
		return n, fmt.Errorf("close stdin of %s: %w", procName(containerID, execID), err)
	}
	return n, nil
}

// WriteStdin writes all of p to a process's stdin, in as many calls as
// the agent needs.
func WriteStdin(ctx context.Context, svc agent.AgentService, p []byte, containerID, execID string) (int, error) {
	n := 0
	for n < len(p) {
		chunk := p[n:]
		if len(chunk) > WriteChunk {
			chunk = chunk[:WriteChunk]
		}
		resp, err := svc.WriteStdin(ctx, &agent.WriteStdinRequest{ContainerId: containerID, ExecId: execID, Data: chunk})
		if err != nil {
			return n, fmt.Errorf("write stdin of %s: %w", procName(containerID, execID), err)
		}
		if resp.Len == 0 || int(resp.Len) > len(chunk) {
			return n, fmt.Errorf("write stdin of %s: %w: agent took %d of %d bytes", procName(containerID, execID), ErrProtocol, resp.Len, len(chunk))
		}
		n += int(resp.Len)
	}
	return n, nil
}

func procName(containerID, execID string) string {
	if execID == "" {
		return "container " + sanitize(containerID)
	}
	return "exec " + sanitize(execID) + " of container " + sanitize(containerID)
}
