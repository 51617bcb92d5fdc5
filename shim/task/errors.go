package task

import (
	"errors"
	"fmt"

	"github.com/containerd/errdefs"
	"github.com/containerd/errdefs/pkg/errgrpc"

	"github.com/runxen/runxen/runtime/agentclient"
)

// toGRPC maps an error to what containerd reads at the RPC edge. Errors
// wrap errdefs sentinels where this package decides the class; an agent
// error keeps the gRPC status the agent answered with (ttrpc finds it
// through the wrapping, with the whole message); a connection to a guest
// that is gone is Unavailable.
func toGRPC(err error) error {
	if err == nil {
		return nil
	}
	if errdefs.Resolve(err) == errdefs.ErrUnknown && guestGone(err) {
		err = fmt.Errorf("%w: %w", err, errdefs.ErrUnavailable)
	}
	return errgrpc.ToGRPC(err)
}

// guestGone tells whether err comes from a guest connection that ended.
func guestGone(err error) bool {
	return errors.Is(err, agentclient.ErrDomainGone) || errors.Is(err, agentclient.ErrAgentClosed) ||
		errors.Is(err, agentclient.ErrClosed) || errors.Is(err, agentclient.ErrProtocol)
}

// agentIs tests the class of an agent call's error: the agent answers
// with gRPC statuses, which errdefs' Is functions do not see.
func agentIs(err error, is func(error) bool) bool {
	return err != nil && (is(err) || is(errgrpc.ToNative(err)))
}
