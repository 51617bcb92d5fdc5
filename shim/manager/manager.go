package manager

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/containerd/containerd/api/types"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/containerd/v2/pkg/shim"
	"github.com/containerd/errdefs"
	"github.com/containerd/log"

	"github.com/runxen/runxen/shim/bundle"
)

// Version is runxen's version, reported by -info and -v; the build may
// set it with -ldflags "-X".
var Version = "dev"

// killedExit is the exit status `delete` reports for a container whose
// shim died: it was killed, as containerd's runc shim says (128+SIGKILL).
const killedExit = 128 + int(syscall.SIGKILL)

// Cleanup removes what a shim that died left of a container, from its
// record; errors are logged, the rest goes on.
type Cleanup func(ctx context.Context, dir string, rec bundle.Record) error

// Manager implements pkg/shim's Manager.
type Manager struct {
	name    string
	cleanup Cleanup
}

var _ shim.Manager = (*Manager)(nil)

// New returns the manager of the runtime name (io.containerd.xen.v1);
// cleanup is what `delete` does with a dead shim's record.
func New(name string, cleanup Cleanup) *Manager {
	return &Manager{name: name, cleanup: cleanup}
}

// Name is the runtime's name.
func (m *Manager) Name() string { return m.name }

// group is the key of the shim a container goes to (see the package doc).
func group(id string) string { return id }

// Start spawns the long-running shim for the container id and returns its
// address; containerd runs it in the bundle directory.
func (m *Manager) Start(ctx context.Context, id string, opts shim.StartOpts) (_ shim.BootstrapParams, retErr error) {
	// containerd 1.7 takes stderr for part of the reply.
	log.L.Logger.SetOutput(io.Discard)
	params := shim.BootstrapParams{Version: 2, Protocol: "ttrpc"}
	dir, err := os.Getwd()
	if err != nil {
		return params, err
	}
	ns, err := namespaces.NamespaceRequired(ctx)
	if err != nil {
		return params, err
	}
	address, err := shim.SocketAddress(ctx, opts.Address, group(id), false)
	if err != nil {
		return params, err
	}
	l, err := shim.NewSocket(address)
	if err != nil {
		if !shim.SocketEaddrinuse(err) {
			return params, fmt.Errorf("shim socket %s: %w", address, err)
		}
		if shim.CanConnect(address) {
			// The group's shim is running: it takes this container too.
			if err := bundle.WriteAddress(dir, address); err != nil {
				return params, err
			}
			params.Address = address
			return params, nil
		}
		// Left by a shim that died.
		if err := shim.RemoveSocket(address); err != nil {
			return params, fmt.Errorf("remove stale shim socket %s: %w", address, err)
		}
		if l, err = shim.NewSocket(address); err != nil {
			return params, fmt.Errorf("shim socket %s: %w", address, err)
		}
	}
	defer func() {
		if retErr != nil {
			l.Close()
			shim.RemoveSocket(address)
		}
	}()
	f, err := l.File()
	if err != nil {
		return params, err
	}
	defer f.Close()

	self, err := os.Executable()
	if err != nil {
		return params, err
	}
	args := []string{"-namespace", ns, "-id", id, "-address", opts.Address}
	if opts.Debug {
		args = append(args, "-debug")
	}
	cmd := exec.Command(self, args...)
	cmd.Dir = dir
	// TTRPC_ADDRESS is how the shim reaches containerd's event service;
	// containerd sets it for `start`, and the shim must have it too.
	cmd.Env = append(os.Environ(), "TTRPC_ADDRESS="+opts.TTRPCAddress)
	cmd.ExtraFiles = []*os.File{f} // fd 3: pkg/shim serves on it
	// Its own process group: signals to containerd's group (a terminal's
	// ^C, a service manager stopping containerd) do not reach the shim,
	// which must outlive a containerd restart.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return params, fmt.Errorf("start shim: %w", err)
	}
	defer func() {
		if retErr != nil {
			cmd.Process.Kill()
		}
	}()
	go cmd.Wait()
	if err := shim.AdjustOOMScore(cmd.Process.Pid); err != nil {
		return params, fmt.Errorf("shim OOM score: %w", err)
	}
	if err := bundle.WriteAddress(dir, address); err != nil {
		return params, err
	}
	params.Address = address
	return params, nil
}

// Stop is the `delete` action: containerd runs it when a shim died (or
// its start failed), in the bundle directory, to remove what the shim
// left: the guest, the rootfs mount, the network namespace holder.
func (m *Manager) Stop(ctx context.Context, id string) (shim.StopStatus, error) {
	dir := bundleDir(ctx)
	st := shim.StopStatus{ExitStatus: killedExit, ExitedAt: time.Now()}
	rec, err := bundle.ReadRecord(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		// The shim records a container before it makes anything and
		// removes the record once it removed everything: nothing to do.
		// (containerd 1.7 runs `delete` after every shim exit, within 5
		// seconds: this is its usual, quick case.)
		return st, nil
	case err != nil:
		return st, fmt.Errorf("delete %s: %w", id, err)
	}
	if rec.ID != "" && rec.ID != id {
		return st, fmt.Errorf("delete %s: bundle %s records container %s: %w", id, dir, rec.ID, errdefs.ErrInvalidArgument)
	}
	rec.ID = id
	st.Pid = rec.HolderPid
	if m.cleanup != nil {
		if err := m.cleanup(ctx, dir, rec); err != nil {
			log.G(ctx).WithError(err).WithField("id", id).Error("clean up after a dead shim")
		}
	}
	if err := bundle.RemoveRecord(dir); err != nil {
		log.G(ctx).WithError(err).WithField("id", id).Warn("remove the shim's record")
	}
	return st, nil
}

func bundleDir(ctx context.Context) string {
	if o, ok := ctx.Value(shim.OptsKey{}).(shim.Opts); ok && o.BundlePath != "" {
		return filepath.Clean(o.BundlePath)
	}
	dir, _ := os.Getwd()
	return dir
}

// Info describes the runtime (`-info`, containerd 2.x's introspection).
func (m *Manager) Info(ctx context.Context, optionsR io.Reader) (*types.RuntimeInfo, error) {
	return &types.RuntimeInfo{
		Name:    m.name,
		Version: &types.RuntimeVersion{Version: Version},
	}, nil
}
