package events

import (
	"context"

	eventsapi "github.com/containerd/containerd/api/services/ttrpc/events/v1"
	"github.com/containerd/containerd/api/types"
	"github.com/containerd/containerd/v2/pkg/ttrpcutil"
)

// TTRPC forwards events to containerd's ttrpc event service, reconnecting
// after a failure (containerd restarted).
type TTRPC struct {
	c *ttrpcutil.Client
}

// Dial returns a forwarder to containerd's ttrpc address (TTRPC_ADDRESS);
// it connects on first use.
func Dial(address string) (*TTRPC, error) {
	c, err := ttrpcutil.NewClient(address)
	if err != nil {
		return nil, err
	}
	return &TTRPC{c: c}, nil
}

// Forward sends one event. After a failure the next call reconnects.
func (t *TTRPC) Forward(ctx context.Context, env *types.Envelope) error {
	svc, err := t.c.EventsService()
	if err == nil {
		_, err = svc.Forward(ctx, &eventsapi.ForwardRequest{Envelope: env})
	}
	if err != nil && !refused(err) {
		// The connection may be stale (containerd restarted): the next
		// attempt dials anew. A failed dial keeps the old, closed client,
		// which fails at once next time and reconnects again.
		_ = t.c.Reconnect()
	}
	return err
}

// Close closes the connection.
func (t *TTRPC) Close() error { return t.c.Close() }
