package xen

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/runxen/runxen/runtime/xenstore"
)

// Watcher is the part of *xenstore.Client that Wait needs.
type Watcher interface {
	Watch(ctx context.Context, path, token string) (*xenstore.Watch, error)
}

var _ Watcher = (*xenstore.Client)(nil)

// XLOptions configures the xl driver.
type XLOptions struct {
	// Path is the xl binary; "" means "xl" found in PATH.
	Path string
	// Store is the xenstore connection Wait watches @releaseDomain on;
	// Wait fails without one.
	Store Watcher
	// TempDir is where Create makes the private directory it writes each
	// xl config into; "" means os.TempDir().
	TempDir string
}

// XL drives domains with Xen's xl command (see the package doc for why
// `xl create -p -e`).
type XL struct {
	path    string
	store   Watcher
	tempDir string
	run     runFunc
}

var _ Toolstack = (*XL)(nil)

// runFunc runs one command and returns its standard output; an error
// carries the exit status and standard error.
type runFunc func(ctx context.Context, name string, args ...string) ([]byte, error)

// cleanupTimeout bounds the destroy that undoes a failed Create.
const cleanupTimeout = 2 * time.Minute

// NewXL returns the xl driver.
func NewXL(opts XLOptions) *XL {
	x := &XL{path: opts.Path, store: opts.Store, tempDir: opts.TempDir, run: runCommand}
	if x.path == "" {
		x.path = "xl"
	}
	return x
}

func runCommand(ctx context.Context, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	// Killed on ctx's end; do not wait forever for grandchildren holding
	// the pipes (xl forks hotplug scripts).
	cmd.WaitDelay = 10 * time.Second
	err := cmd.Run()
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if len(msg) > 2048 {
			msg = "..." + msg[len(msg)-2048:]
		}
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%v)", ctx.Err(), err)
		}
		if msg != "" {
			return stdout.Bytes(), fmt.Errorf("%s %s: %w: %s", filepath.Base(name), strings.Join(args, " "), err, msg)
		}
		return stdout.Bytes(), fmt.Errorf("%s %s: %w", filepath.Base(name), strings.Join(args, " "), err)
	}
	return stdout.Bytes(), nil
}

func (x *XL) xl(ctx context.Context, args ...string) ([]byte, error) {
	return x.run(ctx, x.path, args...)
}

// Create writes cfg as an xl config and runs `xl create -p -e` on it.
func (x *XL) Create(ctx context.Context, cfg DomainConfig) (id DomID, err error) {
	if err := cfg.Validate(); err != nil {
		return 0, fmt.Errorf("create domain %s: %w", clip(cfg.Name), err)
	}
	defer func() {
		if err != nil {
			err = fmt.Errorf("create domain %s: %w", cfg.Name, err)
		}
	}()
	// A failed create is undone by destroying the domain by name, so the
	// name must not be someone else's already. (xl would refuse it too,
	// but its failure would then destroy the other domain.)
	doms, err := x.List(ctx)
	if err != nil {
		return 0, err
	}
	for _, d := range doms {
		if d.Name == cfg.Name {
			return 0, fmt.Errorf("domain %d already has that name", d.ID)
		}
	}
	dir, err := os.MkdirTemp(x.tempDir, "runxen-xl-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "domain.cfg")
	if err := os.WriteFile(path, []byte(cfg.xlConfig()), 0o600); err != nil {
		return 0, err
	}
	if _, err := x.xl(ctx, "create", "-p", "-e", "-q", path); err != nil {
		// xl may have got far before failing or being killed: leave
		// nothing behind. Destroy by name, the only handle there is.
		x.destroyByName(cfg.Name)
		return 0, err
	}
	out, err := x.xl(ctx, "domid", cfg.Name)
	if err == nil {
		var v uint64
		v, err = strconv.ParseUint(strings.TrimSpace(string(out)), 10, 32)
		if err == nil && v > uint64(MaxDomID) {
			err = fmt.Errorf("xl domid: %d is not a domain ID", v)
		}
		id = DomID(v)
	}
	if err != nil {
		x.destroyByName(cfg.Name)
		return 0, fmt.Errorf("find its ID: %w", err)
	}
	return id, nil
}

// destroyByName destroys the domain called name if there is one, with a
// context of its own: it runs when the caller's may have ended.
func (x *XL) destroyByName(name string) {
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	if _, err := x.xl(ctx, "domid", name); err != nil {
		return
	}
	_, _ = x.xl(ctx, "destroy", name)
}

// Unpause runs `xl unpause`.
func (x *XL) Unpause(ctx context.Context, id DomID) error {
	return x.control(ctx, "unpause", id)
}

// Pause runs `xl pause`.
func (x *XL) Pause(ctx context.Context, id DomID) error {
	return x.control(ctx, "pause", id)
}

// Destroy runs `xl destroy`.
func (x *XL) Destroy(ctx context.Context, id DomID) error {
	return x.control(ctx, "destroy", id)
}

func (x *XL) control(ctx context.Context, verb string, id DomID) error {
	if id == 0 || id > MaxDomID {
		return fmt.Errorf("%s domain %d: not a guest domain ID", verb, id)
	}
	if _, err := x.xl(ctx, verb, strconv.FormatUint(uint64(id), 10)); err != nil {
		// Tell "no such domain" apart by asking, not by parsing xl's
		// message.
		if _, ierr := x.Info(ctx, id); errors.Is(ierr, ErrNoDomain) {
			return fmt.Errorf("%s domain %d: %w", verb, id, ErrNoDomain)
		}
		return fmt.Errorf("%s domain %d: %w", verb, id, err)
	}
	return nil
}

// Info runs `xl list` and picks the domain.
func (x *XL) Info(ctx context.Context, id DomID) (DomainInfo, error) {
	doms, err := x.List(ctx)
	if err != nil {
		return DomainInfo{}, fmt.Errorf("domain %d info: %w", id, err)
	}
	for _, d := range doms {
		if d.ID == id {
			return d, nil
		}
	}
	return DomainInfo{}, fmt.Errorf("domain %d: %w", id, ErrNoDomain)
}

// List runs `xl list`.
func (x *XL) List(ctx context.Context) ([]DomainInfo, error) {
	out, err := x.xl(ctx, "list")
	if err != nil {
		return nil, fmt.Errorf("list domains: %w", err)
	}
	doms, err := parseXLList(out)
	if err != nil {
		return nil, fmt.Errorf("list domains: %w", err)
	}
	return doms, nil
}

// Wait watches @releaseDomain and checks the domain after each event.
func (x *XL) Wait(ctx context.Context, id DomID) (DomainInfo, error) {
	if x.store == nil {
		return DomainInfo{}, fmt.Errorf("wait for domain %d: xl driver has no xenstore connection", id)
	}
	return WaitExit(ctx, x.store, x.Info, id)
}

// WaitExit is Toolstack.Wait for drivers that can describe a domain: it
// watches xenstore's @releaseDomain and calls info once at the start and
// after every event, until the domain has exited or is gone (then it
// returns StateGone), or ctx ends.
func WaitExit(ctx context.Context, w Watcher, info func(context.Context, DomID) (DomainInfo, error), id DomID) (DomainInfo, error) {
	watch, err := w.Watch(ctx, xenstore.ReleaseDomain, "")
	if err != nil {
		return DomainInfo{}, fmt.Errorf("wait for domain %d: %w", id, err)
	}
	defer watch.Close()
	for {
		// The watch fires once when registered: the first check happens
		// at once and covers a domain that died before the watch existed.
		select {
		case _, ok := <-watch.Events():
			if !ok {
				return DomainInfo{}, fmt.Errorf("wait for domain %d: @releaseDomain watch ended: %v", id, watch.Err())
			}
		case <-ctx.Done():
			return DomainInfo{}, fmt.Errorf("wait for domain %d: %w", id, ctx.Err())
		}
		d, err := info(ctx, id)
		switch {
		case errors.Is(err, ErrNoDomain):
			return DomainInfo{ID: id, State: StateGone, Reason: ReasonUnknown}, nil
		case err != nil:
			return DomainInfo{}, fmt.Errorf("wait for domain %d: %w", id, err)
		case d.State.Exited():
			return d, nil
		}
	}
}
