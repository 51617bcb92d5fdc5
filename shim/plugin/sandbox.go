package plugin

import (
	"context"
	"fmt"

	"github.com/containerd/log"

	"github.com/runxen/runxen/runtime/config"
	"github.com/runxen/runxen/runtime/sandbox"
	"github.com/runxen/runxen/shim/bundle"
	"github.com/runxen/runxen/shim/task"
)

// settings loads the runxen configuration the runtime options name: a
// file (config_path), an inline TOML (config_body), or else
// RUNXEN_CONFIG or /etc/runxen/config.toml, or the built-in defaults.
func settings(path string, body []byte) (config.Config, error) {
	if path == "" && len(body) > 0 {
		c, err := config.Parse(body)
		if err != nil {
			return c, fmt.Errorf("runtime options' config_body: %w", err)
		}
		return c, nil
	}
	c, _, err := config.Load(path)
	return c, err
}

// newSandbox creates the guest through runtime/sandbox.
func newSandbox(ctx context.Context, r task.SandboxRequest) (task.Sandbox, error) {
	st, err := settings(r.ConfigPath, r.ConfigBody)
	if err != nil {
		return nil, err
	}
	if st.LogLevel != "" {
		// One shim serves one container: its configuration's level is the
		// shim's. pkg/shim's -debug (containerd at debug level) wins.
		if lvl := log.GetLevel(); lvl != log.DebugLevel && lvl != log.TraceLevel {
			if err := log.SetLevel(st.LogLevel); err != nil {
				log.G(ctx).WithError(err).Warn("log level of the runxen configuration")
			}
		}
	}
	sb, err := sandbox.Create(ctx, sandbox.Config{
		ID:        r.SandboxID,
		Namespace: r.Namespace,
		Settings:  st,
	}, sandbox.ContainerConfig{
		ID:        r.ContainerID,
		Bundle:    r.Bundle,
		Spec:      r.Spec,
		RootfsDir: r.RootfsDir,
		Terminal:  r.Terminal,
		Stdin:     r.Stdin,
	})
	if err != nil {
		return nil, err
	}
	return sb, nil
}

// destroyGuest removes what a dead shim's sandbox left (its domain, found
// by name, the domain's 9pfs nodes, staged bind mounts), with the
// configuration the shim used.
func destroyGuest(ctx context.Context, rec bundle.Record) error {
	st, err := settings(rec.ConfigPath, rec.ConfigBody)
	if err != nil {
		return err
	}
	id := rec.SandboxID
	if id == "" {
		id = rec.ID
	}
	return sandbox.Cleanup(ctx, sandbox.Config{ID: id, Namespace: rec.Namespace, Settings: st})
}
