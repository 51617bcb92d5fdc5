package task

import (
	"fmt"

	runtimeoptions "github.com/containerd/containerd/api/types/runtimeoptions/v1"
	"github.com/containerd/errdefs"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

// options are the runtime options of a Create request: containerd's
// generic runtimeoptions.v1.Options, which containerd's CRI (the runtime's
// `options` in containerd's config) sends to a runtime that is not runc.
// Its type_url describes the configuration's format for runtimes that
// take several; runxen reads its own TOML either way.
type options struct {
	// ConfigPath names the runxen configuration file to use.
	ConfigPath string
	// ConfigBody is a TOML configuration given inline; ConfigPath wins.
	ConfigBody []byte
}

// parseOptions decodes CreateTaskRequest.Options. None is fine; another
// type (runc's options, sent to a runtime that is not runc) is refused,
// naming it, since runxen would have to ignore it.
func parseOptions(a *anypb.Any) (options, error) {
	if a == nil || (a.TypeUrl == "" && len(a.Value) == 0) {
		return options{}, nil
	}
	var o runtimeoptions.Options
	if a.MessageName() != (&o).ProtoReflect().Descriptor().FullName() {
		return options{}, fmt.Errorf("runtime options of type %q: runxen takes runtimeoptions.v1.Options (config_path, config_body): %w", a.TypeUrl, errdefs.ErrInvalidArgument)
	}
	if err := proto.Unmarshal(a.Value, &o); err != nil {
		return options{}, fmt.Errorf("runtime options: %v: %w", err, errdefs.ErrInvalidArgument)
	}
	return options{ConfigPath: o.ConfigPath, ConfigBody: o.ConfigBody}, nil
}
