package config

import (
	"errors"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
)

func TestApplyAnnotations(t *testing.T) {
	base := IOLimits{ReadBytesPerSec: 100, WriteBytesPerSec: 200, ReadOpsPerSec: 10, WriteOpsPerSec: 20}
	tests := []struct {
		name string
		ann  map[string]string
		want IOLimits
		errs []string
	}{
		{name: "none", ann: nil, want: base},
		{name: "others' annotations are not ours", ann: map[string]string{"org.opencontainers.image.title": "x", "io.runxenx": "y"}, want: base},
		{
			name: "all four",
			ann: map[string]string{AnnotationReadBPS: "1048576", AnnotationWriteBPS: "0",
				AnnotationReadIOPS: "5", AnnotationWriteIOPS: "18446744073709551615"},
			want: IOLimits{ReadBytesPerSec: 1 << 20, WriteBytesPerSec: 0, ReadOpsPerSec: 5, WriteOpsPerSec: 1<<64 - 1},
		},
		{name: "one", ann: map[string]string{AnnotationWriteIOPS: "7"}, want: IOLimits{ReadBytesPerSec: 100, WriteBytesPerSec: 200, ReadOpsPerSec: 10, WriteOpsPerSec: 7}},
		{name: "unknown runxen annotation", ann: map[string]string{"io.runxen.io.read-bsp": "1"}, errs: []string{`annotations["io.runxen.io.read-bsp"]: unknown runxen annotation`, AnnotationReadBPS}},
		{name: "units are not accepted", ann: map[string]string{AnnotationReadBPS: "10M"}, errs: []string{`annotations["io.runxen.io.read-bps"]: "10M": want a decimal number`}},
		{name: "negative", ann: map[string]string{AnnotationWriteBPS: "-1"}, errs: []string{AnnotationWriteBPS}},
		{name: "sign", ann: map[string]string{AnnotationWriteBPS: "+1"}, errs: []string{AnnotationWriteBPS}},
		{name: "empty", ann: map[string]string{AnnotationReadIOPS: ""}, errs: []string{AnnotationReadIOPS}},
		{name: "space", ann: map[string]string{AnnotationReadIOPS: " 5"}, errs: []string{AnnotationReadIOPS}},
		{name: "overflow", ann: map[string]string{AnnotationReadIOPS: "18446744073709551616"}, errs: []string{"out of range"}},
		{
			name: "every problem is named",
			ann:  map[string]string{AnnotationReadIOPS: "x", "io.runxen.memory": "1", AnnotationWriteBPS: "5"},
			errs: []string{AnnotationReadIOPS, "io.runxen.memory"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ApplyAnnotations(tt.ann, base)
			if tt.errs != nil {
				if err == nil || !errors.Is(err, errdefs.ErrInvalidArgument) {
					t.Fatalf("ApplyAnnotations = %+v, %v; want an ErrInvalidArgument", got, err)
				}
				for _, s := range tt.errs {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q lacks %q", err, s)
					}
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ApplyAnnotations = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}
