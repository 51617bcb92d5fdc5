package task

import (
	"context"

	taskv3 "github.com/containerd/containerd/api/runtime/task/v3"
	"github.com/containerd/log"
	"google.golang.org/protobuf/types/known/emptypb"
)

// The RPCs: each maps its error at the edge and logs failures with the
// task's ID. The work is in the lower-case methods.

var empty = &emptypb.Empty{}

func edge(ctx context.Context, method, id, execID string, err error) error {
	if err != nil {
		log.G(ctx).WithError(err).WithFields(log.Fields{"id": id, "exec": execID}).Debugf("%s failed", method)
	}
	return toGRPC(err)
}

// Create creates a container in a new guest, not yet started.
func (s *Service) Create(ctx context.Context, r *taskv3.CreateTaskRequest) (*taskv3.CreateTaskResponse, error) {
	resp, err := s.create(ctx, r)
	return resp, edge(ctx, "create", r.ID, "", err)
}

// Start starts a created init or exec.
func (s *Service) Start(ctx context.Context, r *taskv3.StartRequest) (*taskv3.StartResponse, error) {
	resp, err := s.start(ctx, r)
	return resp, edge(ctx, "start", r.ID, r.ExecID, err)
}

// Delete removes a stopped (or never started) process; the init's takes
// the container and its guest.
func (s *Service) Delete(ctx context.Context, r *taskv3.DeleteRequest) (*taskv3.DeleteResponse, error) {
	resp, err := s.delete(ctx, r)
	return resp, edge(ctx, "delete", r.ID, r.ExecID, err)
}

// Exec adds a process to a running container, not yet started.
func (s *Service) Exec(ctx context.Context, r *taskv3.ExecProcessRequest) (*emptypb.Empty, error) {
	return empty, edge(ctx, "exec", r.ID, r.ExecID, s.exec(ctx, r))
}

// State describes a process.
func (s *Service) State(ctx context.Context, r *taskv3.StateRequest) (*taskv3.StateResponse, error) {
	resp, err := s.stateOf(r)
	return resp, edge(ctx, "state", r.ID, r.ExecID, err)
}

// Pids lists the task's host processes.
func (s *Service) Pids(ctx context.Context, r *taskv3.PidsRequest) (*taskv3.PidsResponse, error) {
	resp, err := s.pids(r)
	return resp, edge(ctx, "pids", r.ID, "", err)
}

// Pause freezes a container after flushing its writes to the host.
func (s *Service) Pause(ctx context.Context, r *taskv3.PauseRequest) (*emptypb.Empty, error) {
	return empty, edge(ctx, "pause", r.ID, "", s.pause(ctx, r))
}

// Resume thaws a paused container.
func (s *Service) Resume(ctx context.Context, r *taskv3.ResumeRequest) (*emptypb.Empty, error) {
	return empty, edge(ctx, "resume", r.ID, "", s.resume(ctx, r))
}

// Checkpoint is not implemented.
func (s *Service) Checkpoint(ctx context.Context, r *taskv3.CheckpointTaskRequest) (*emptypb.Empty, error) {
	return empty, edge(ctx, "checkpoint", r.ID, "", checkpointNotImplemented(r))
}

// Kill signals a process, or with All every process of the container.
func (s *Service) Kill(ctx context.Context, r *taskv3.KillRequest) (*emptypb.Empty, error) {
	return empty, edge(ctx, "kill", r.ID, r.ExecID, s.kill(ctx, r))
}

// ResizePty sets a process's terminal size.
func (s *Service) ResizePty(ctx context.Context, r *taskv3.ResizePtyRequest) (*emptypb.Empty, error) {
	return empty, edge(ctx, "resize-pty", r.ID, r.ExecID, s.resizePty(ctx, r))
}

// CloseIO closes a process's stdin once what the client wrote arrived.
func (s *Service) CloseIO(ctx context.Context, r *taskv3.CloseIORequest) (*emptypb.Empty, error) {
	return empty, edge(ctx, "close-io", r.ID, r.ExecID, s.closeIO(ctx, r))
}

// Update applies new resource limits.
func (s *Service) Update(ctx context.Context, r *taskv3.UpdateTaskRequest) (*emptypb.Empty, error) {
	return empty, edge(ctx, "update", r.ID, "", s.update(ctx, r))
}

// Wait blocks until a process has exited and its output was delivered.
func (s *Service) Wait(ctx context.Context, r *taskv3.WaitRequest) (*taskv3.WaitResponse, error) {
	resp, err := s.wait(ctx, r)
	return resp, edge(ctx, "wait", r.ID, r.ExecID, err)
}

// Stats reports the container's cgroup v2 metrics from the guest.
func (s *Service) Stats(ctx context.Context, r *taskv3.StatsRequest) (*taskv3.StatsResponse, error) {
	resp, err := s.stats(ctx, r)
	return resp, edge(ctx, "stats", r.ID, "", err)
}

// Connect tells the shim's and the task's PIDs.
func (s *Service) Connect(ctx context.Context, r *taskv3.ConnectRequest) (*taskv3.ConnectResponse, error) {
	resp, err := s.connect(r)
	return resp, edge(ctx, "connect", r.ID, "", err)
}

// Shutdown ends the shim if it holds no container.
func (s *Service) Shutdown(ctx context.Context, r *taskv3.ShutdownRequest) (*emptypb.Empty, error) {
	s.shutdownShim(ctx, r)
	return empty, nil
}
