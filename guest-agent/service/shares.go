package service

import (
	"context"
	"fmt"

	"github.com/containerd/errdefs"
	"google.golang.org/protobuf/types/known/emptypb"

	agent "github.com/runxen/runxen/guest-agent/api/v1"
	"github.com/runxen/runxen/guest-agent/shares"
)

// MountShare checks the request (InvalidArgument) and mounts the share.
func (s *Service) MountShare(ctx context.Context, r *agent.MountShareRequest) (*emptypb.Empty, error) {
	q, err := shares.ParseRequest(r)
	if err != nil {
		return nil, err
	}
	if s.cfg.Shares == nil {
		return nil, fmt.Errorf("mount share %q: this agent mounts no shares: %w", q.Tag, errdefs.ErrNotImplemented)
	}
	if err := s.cfg.Shares.Mount(ctx, q); err != nil {
		return nil, err
	}
	return &emptypb.Empty{}, nil
}

// SyncFS flushes every file system of the guest.
func (s *Service) SyncFS(ctx context.Context, _ *emptypb.Empty) (*emptypb.Empty, error) {
	if s.cfg.Shares == nil {
		return nil, fmt.Errorf("sync: this agent mounts no shares: %w", errdefs.ErrNotImplemented)
	}
	if err := s.cfg.Shares.Sync(ctx); err != nil {
		return nil, err
	}
	return &emptypb.Empty{}, nil
}
