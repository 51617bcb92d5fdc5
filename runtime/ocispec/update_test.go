package ocispec

import (
	"errors"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/runxen/runxen/runtime/config"
	"github.com/runxen/runxen/runtime/iolimit"
)

func TestTranslateUpdate(t *testing.T) {
	i64 := func(v int64) *int64 { return &v }
	u64 := func(v uint64) *uint64 { return &v }
	def := config.Default()
	tests := []struct {
		name   string
		r      *specs.LinuxResources
		ann    map[string]string
		shape  Shape
		limits *iolimit.Limits
		err    string
	}{
		{name: "nothing set changes nothing", r: &specs.LinuxResources{}},
		{
			name:  "docker update --memory 1g --cpus 1.5",
			r:     &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(1 << 30)}, CPU: &specs.LinuxCPU{Quota: i64(150000), Period: u64(100000)}},
			shape: Shape{MemoryMiB: 1024 + 128 + 41, ContainerMemoryMiB: 1024, VCPUs: 2, CPUCap: 150},
		},
		{
			name:  "--cpus 2: two whole vCPUs need no cap",
			r:     &specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: i64(200000), Period: u64(100000)}},
			shape: Shape{VCPUs: 2},
		},
		{
			name:   "throttles become limits",
			r:      &specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{ThrottleReadBpsDevice: []specs.LinuxThrottleDevice{{Rate: 4096}}}},
			limits: &iolimit.Limits{ReadBytesPerSec: 4096},
		},
		{
			name:   "annotations still win",
			r:      &specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{ThrottleReadBpsDevice: []specs.LinuxThrottleDevice{{Rate: 4096}}}},
			ann:    map[string]string{config.AnnotationReadBPS: "100"},
			limits: &iolimit.Limits{ReadBytesPerSec: 100},
		},
		{name: "too little memory", r: &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(1 << 20)}}, err: "resources.memory.limit: 1 MiB is below"},
		{name: "what the agent refuses", r: &specs.LinuxResources{Memory: &specs.LinuxMemory{Swappiness: u64(10)}}, err: "resources.memory.swappiness"},
		{name: "nil", r: nil, err: "resources: is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := TranslateUpdate(tt.r, def, tt.ann)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) || !errors.Is(err, errdefs.ErrInvalidArgument) && !errors.Is(err, errdefs.ErrNotImplemented) {
					t.Fatalf("TranslateUpdate = %v; want an error with %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if u.Shape != tt.shape {
				t.Errorf("Shape = %+v; want %+v", u.Shape, tt.shape)
			}
			if (u.IOLimits == nil) != (tt.limits == nil) || u.IOLimits != nil && *u.IOLimits != *tt.limits {
				t.Errorf("IOLimits = %v; want %v", u.IOLimits, tt.limits)
			}
			if b := u.Resources.BlockIO; b != nil && len(b.ThrottleReadBpsDevice) > 0 {
				t.Error("throttles left in the guest's resources")
			}
		})
	}
}
