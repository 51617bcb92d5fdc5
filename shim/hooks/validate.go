package hooks

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/containerd/errdefs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Validate checks a spec's hooks before the shim creates anything, so a
// bad hook fails Create with nothing to undo. It refuses:
//
//   - a path that is empty or relative (the spec requires absolute paths),
//     and a timeout that is not positive: errdefs.ErrInvalidArgument;
//   - createContainer and startContainer hooks: errdefs.ErrNotImplemented.
//     They must run in the container's namespaces, which live in the
//     guest, and the guest does not run hooks (guest-agent/speccheck).
//     Running them on the host would run them in the wrong namespaces,
//     silently; dropping them would skip them, silently.
//
// Every problem is reported, each naming its field (hooks.prestart[1].path).
func Validate(h *specs.Hooks) error {
	if h == nil {
		return nil
	}
	var errs []error
	for _, k := range kinds(h) {
		if k.inContainer && len(k.hooks) > 0 {
			errs = append(errs, fmt.Errorf("hooks.%s: %d hook(s) that must run in the container's namespaces, inside the Xen guest, which runs no hooks: %w",
				k.name, len(k.hooks), errdefs.ErrNotImplemented))
			continue
		}
		for i, hk := range k.hooks {
			field := fmt.Sprintf("hooks.%s[%d]", k.name, i)
			if hk.Path == "" || !filepath.IsAbs(hk.Path) {
				errs = append(errs, fmt.Errorf("%s.path %q: must be an absolute path: %w", field, hk.Path, errdefs.ErrInvalidArgument))
			}
			if hk.Timeout != nil && *hk.Timeout <= 0 {
				errs = append(errs, fmt.Errorf("%s.timeout %d: must be greater than zero: %w", field, *hk.Timeout, errdefs.ErrInvalidArgument))
			}
		}
	}
	return errors.Join(errs...)
}

type kind struct {
	name        string
	hooks       []specs.Hook
	inContainer bool
}

func kinds(h *specs.Hooks) []kind {
	return []kind{
		//lint:ignore SA1019 Docker 26 still wires its network through a prestart hook
		{name: "prestart", hooks: h.Prestart},
		{name: "createRuntime", hooks: h.CreateRuntime},
		{name: "createContainer", hooks: h.CreateContainer, inContainer: true},
		{name: "startContainer", hooks: h.StartContainer, inContainer: true},
		{name: "poststart", hooks: h.Poststart},
		{name: "poststop", hooks: h.Poststop},
	}
}
