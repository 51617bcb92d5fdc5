package task

import (
	"context"
	"time"

	eventstypes "github.com/containerd/containerd/api/events"
	"github.com/containerd/errdefs"
	"github.com/containerd/log"
	"google.golang.org/protobuf/types/known/emptypb"
)

// oomPace spaces OOM events: a guest could report them in a tight loop,
// and each becomes an event for containerd and its clients.
const oomPace = 100 * time.Millisecond

// watchOOM turns the agent's OOM long-poll into TaskOOM events for the
// sandbox's containers until the sandbox is torn down or gone.
func (s *Service) watchOOM(ref *sandboxRef) {
	ctx, cancel := context.WithCancel(s.ctx)
	ref.stopOOM = cancel
	go func() {
		svc := ref.sb.Agent()
		for {
			ev, err := svc.GetOOMEvent(ctx, &emptypb.Empty{})
			if ctx.Err() != nil {
				return
			}
			if err != nil {
				select {
				case <-ref.sb.Done():
					return
				default:
				}
				if agentIs(err, errdefs.IsNotImplemented) {
					log.G(ctx).WithError(err).Warn("the agent reports no OOM events")
					return
				}
				log.G(ctx).WithError(err).WithField("sandbox", ref.id).Debug("OOM event poll failed; retrying")
				select {
				case <-time.After(time.Second):
				case <-ctx.Done():
					return
				}
				continue
			}
			id := ev.GetContainerId()
			s.mu.Lock()
			_, ours := ref.containers[id]
			s.mu.Unlock()
			if !ours {
				// The guest is untrusted: it may name only its own.
				log.G(ctx).WithFields(log.Fields{"sandbox": ref.id, "container": id}).Warn("OOM event for a container not in this sandbox; ignored")
			} else {
				s.env.Events.Send(&eventstypes.TaskOOM{ContainerID: id})
			}
			select {
			case <-time.After(oomPace):
			case <-ctx.Done():
				return
			}
		}
	}()
}
