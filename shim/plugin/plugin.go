package plugin

import (
	"context"
	"fmt"
	"time"

	"github.com/containerd/containerd/v2/core/mount"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/containerd/v2/pkg/shutdown"
	"github.com/containerd/containerd/v2/plugins"
	"github.com/containerd/log"
	"github.com/containerd/plugin"
	"github.com/containerd/plugin/registry"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/runxen/runxen/runtime/netns"
	"github.com/runxen/runxen/shim/events"
	"github.com/runxen/runxen/shim/hooks"
	"github.com/runxen/runxen/shim/task"
)

// EventFlushTimeout bounds the delivery of the events still queued when
// the shim exits.
const EventFlushTimeout = 10 * time.Second

// Register registers the task service with pkg/shim; call it before
// shim.Run.
func Register() {
	registry.Register(&plugin.Registration{
		Type:     plugins.TTRPCPlugin,
		ID:       "task",
		Requires: []plugin.Type{plugins.InternalPlugin},
		InitFn:   initTask,
	})
}

func initTask(ic *plugin.InitContext) (interface{}, error) {
	p, err := ic.GetByID(plugins.InternalPlugin, "shutdown")
	if err != nil {
		return nil, err
	}
	sd := p.(shutdown.Service)
	ns, err := namespaces.NamespaceRequired(ic.Context)
	if err != nil {
		return nil, err
	}
	fwd, err := events.Dial(ic.Properties[plugins.PropertyTTRPCAddress])
	if err != nil {
		return nil, fmt.Errorf("containerd's event service: %w", err)
	}
	pub := events.New(ns, fwd)
	svc := task.New(ic.Context, task.Env{
		Namespace:   ns,
		Events:      pub,
		NewSandbox:  newSandbox,
		NewHolder:   newHolder,
		RunHooks:    hooks.Run,
		RunAllHooks: hooks.RunAll,
		Mount:       mount.All,
		Unmount:     unmount,
		Shutdown:    sd.Shutdown,
	})
	sd.RegisterCallback(func(ctx context.Context) error {
		svc.Close(ctx)
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), EventFlushTimeout)
		defer cancel()
		if err := pub.Close(fctx); err != nil {
			log.G(ctx).WithError(err).Error("events lost at shim exit")
		}
		return nil
	})
	return svc, nil
}

func newHolder(ctx context.Context, id string, spec *specs.Spec) (task.Holder, error) {
	h, err := netns.NewHolder(ctx, id, spec)
	if err != nil {
		return nil, err
	}
	return h, nil
}

// unmount undoes mount.All: every mount at or under target, innermost
// first.
func unmount(target string) error { return mount.UnmountRecursive(target, 0) }
