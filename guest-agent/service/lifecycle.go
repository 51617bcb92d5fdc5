package service

import (
	"context"
	"fmt"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/containerd/log"
	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/types/known/emptypb"

	agent "github.com/runxen/runxen/guest-agent/api/v1"
)

// shutdownWait bounds how long Shutdown waits for killed inits to exit.
const shutdownWait = 5 * time.Second

func (s *Service) Version(ctx context.Context, _ *emptypb.Empty) (*agent.VersionResponse, error) {
	v := s.cfg.AgentVersion
	if v == "" {
		v = BuildVersion()
	}
	var u unix.Utsname
	release := ""
	if err := unix.Uname(&u); err == nil {
		release = unix.ByteSliceToString(u.Release[:])
	}
	return &agent.VersionResponse{AgentVersion: v, ApiVersion: agent.APIVersion, KernelRelease: release}, nil
}

// BuildVersion describes the running binary from its build info: the main
// module's version, and the VCS revision when the build recorded one.
func BuildVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := bi.Main.Version
	if v == "" {
		v = "(devel)"
	}
	var rev, dirty string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "-dirty"
			}
		}
	}
	if rev != "" && !strings.Contains(v, rev[:min(12, len(rev))]) {
		v += "+" + rev[:min(12, len(rev))] + dirty
	}
	return v
}

// Shutdown kills every container's processes, replies, and powers the
// guest off PowerOffDelay later.
func (s *Service) Shutdown(ctx context.Context, _ *emptypb.Empty) (*emptypb.Empty, error) {
	s.mu.Lock()
	s.shuttingDown = true
	var cs []*container
	for _, c := range s.containers {
		if !c.creating && !c.removing {
			cs = append(cs, c)
		}
	}
	s.mu.Unlock()
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownWait)
	defer cancel()
	for _, c := range cs {
		if err := s.rt.Kill(rctx, c.id, syscall.SIGKILL, true); err != nil {
			log.G(ctx).WithError(err).WithField("container", c.id).Debug("shutdown: kill")
		}
	}
	for _, c := range cs {
		select {
		case <-c.init.exited:
		case <-rctx.Done():
		}
	}
	go func() {
		time.Sleep(s.cfg.PowerOffDelay)
		s.powerOff("Shutdown requested by the host")
	}()
	return &emptypb.Empty{}, nil
}

// powerOffWhenCollected powers the guest off once the init of c (which
// asked for poweroff_on_exit) has exited and the host has collected its
// exit status and all its output, or once the host has been silent for
// PowerOffGrace, or once the container is removed.
func (s *Service) powerOffWhenCollected(c *container) {
	grace := time.NewTimer(s.cfg.PowerOffGrace)
	defer grace.Stop()
	p := c.init
	for {
		s.mu.Lock()
		waited := p.waited
		s.mu.Unlock()
		outDone, errDone := p.stdout.Done(), p.stderr.Done()
		if waited && p.stdout.Finished() && p.stderr.Finished() {
			time.Sleep(s.cfg.PowerOffDelay) // let the collecting reply leave
			s.powerOff(fmt.Sprintf("the init of container %q exited and its status and output were collected", c.id))
			return
		}
		select {
		case <-c.activity:
			grace.Reset(s.cfg.PowerOffGrace)
		case <-outDone:
		case <-errDone:
		case <-c.removed:
			time.Sleep(s.cfg.PowerOffDelay)
			s.powerOff(fmt.Sprintf("container %q exited and was removed", c.id))
			return
		case <-grace.C:
			s.powerOff(fmt.Sprintf("the init of container %q exited and nobody collected it for %v", c.id, s.cfg.PowerOffGrace))
			return
		}
	}
}
