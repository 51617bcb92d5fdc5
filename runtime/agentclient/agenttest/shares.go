package agenttest

import (
	"context"
	"fmt"
	"path"

	"google.golang.org/protobuf/types/known/emptypb"

	agent "github.com/runxen/runxen/guest-agent/api/v1"
)

// Mounts returns the shares mounted so far, by tag, as the requests that
// mounted them.
func (a *Agent) Mounts() map[string]*agent.MountShareRequest {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make(map[string]*agent.MountShareRequest, len(a.mounts))
	for tag, r := range a.mounts {
		out[tag] = r
	}
	return out
}

// MountShare records the mount; like the agent, it refuses a bad tag or
// target and a tag mounted already.
func (a *Agent) MountShare(ctx context.Context, r *agent.MountShareRequest) (*emptypb.Empty, error) {
	a.record("MountShare")
	if err := agent.CheckShareTag(r.Tag); err != nil {
		return nil, err
	}
	if !path.IsAbs(r.Target) || path.Clean(r.Target) != r.Target {
		return nil, fmt.Errorf("share target %q: not an absolute clean path", r.Target)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.mounts == nil {
		a.mounts = make(map[string]*agent.MountShareRequest)
	}
	if _, ok := a.mounts[r.Tag]; ok {
		return nil, fmt.Errorf("share %q is already mounted", r.Tag)
	}
	a.mounts[r.Tag] = r
	return &emptypb.Empty{}, nil
}

// SyncFS records the call; Calls shows it.
func (a *Agent) SyncFS(ctx context.Context, _ *emptypb.Empty) (*emptypb.Empty, error) {
	a.record("SyncFS")
	return &emptypb.Empty{}, nil
}
