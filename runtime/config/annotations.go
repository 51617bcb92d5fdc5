package config

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/containerd/errdefs"
)

// Annotations a container's OCI spec may carry (docker run --annotation,
// nerdctl run --annotation, ctr run --annotation, Kubernetes pod
// annotations passed by the CRI). Every annotation under
// AnnotationPrefix must be one of these: a misspelt one is an error, not
// a limit silently not applied.
const (
	AnnotationPrefix = "io.runxen."

	// I/O limits for every share of the container (its root file system
	// and volumes): a decimal number, 0 for unlimited. They replace
	// shares.io_limits and any limit derived from
	// linux.resources.blockIO throttles.
	AnnotationReadBPS   = "io.runxen.io.read-bps"
	AnnotationWriteBPS  = "io.runxen.io.write-bps"
	AnnotationReadIOPS  = "io.runxen.io.read-iops"
	AnnotationWriteIOPS = "io.runxen.io.write-iops"
)

// maxAnnotationValue bounds a numeric annotation's text.
const maxAnnotationValue = 20

// ApplyAnnotations returns limits with the I/O limit annotations of
// annotations applied. Annotations outside AnnotationPrefix are not
// runxen's and are ignored; unknown ones under it, and bad values, are
// errors naming the annotation (all of them, in name order) that wrap
// errdefs.ErrInvalidArgument: they are the container's mistake, not the
// host's configuration's.
func ApplyAnnotations(annotations map[string]string, limits IOLimits) (IOLimits, error) {
	targets := map[string]*uint64{
		AnnotationReadBPS:   &limits.ReadBytesPerSec,
		AnnotationWriteBPS:  &limits.WriteBytesPerSec,
		AnnotationReadIOPS:  &limits.ReadOpsPerSec,
		AnnotationWriteIOPS: &limits.WriteOpsPerSec,
	}
	keys := make([]string, 0, len(annotations))
	for k := range annotations {
		if strings.HasPrefix(k, AnnotationPrefix) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var errs []error
	for _, k := range keys {
		dst, ok := targets[k]
		if !ok {
			errs = append(errs, fmt.Errorf("annotations[%.80q]: unknown runxen annotation (known: %s): %w",
				k, strings.Join(KnownAnnotations(), ", "), errdefs.ErrInvalidArgument))
			continue
		}
		v, err := parseRate(annotations[k])
		if err != nil {
			errs = append(errs, fmt.Errorf("annotations[%q]: %v: %w", k, err, errdefs.ErrInvalidArgument))
			continue
		}
		*dst = v
	}
	if err := errors.Join(errs...); err != nil {
		return IOLimits{}, err
	}
	return limits, nil
}

// KnownAnnotations lists the annotations runxen reads, sorted.
func KnownAnnotations() []string {
	return []string{AnnotationReadBPS, AnnotationReadIOPS, AnnotationWriteBPS, AnnotationWriteIOPS}
}

// parseRate reads a canonical non-negative decimal integer.
func parseRate(s string) (uint64, error) {
	if s == "" || len(s) > maxAnnotationValue {
		return 0, fmt.Errorf("%.80q: want a decimal number (0 for unlimited)", s)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("%.80q: want a decimal number (0 for unlimited)", s)
		}
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%.80q: out of range", s)
	}
	return v, nil
}
