package ocispec

import (
	"errors"
	"fmt"

	"github.com/containerd/errdefs"
)

// FieldError names the spec field runxen cannot honour and says why. It
// wraps errdefs.ErrInvalidArgument (a value that is wrong) or
// errdefs.ErrNotImplemented (a value runc on the host would honour but a
// guest cannot), so that containerd reports the right code.
type FieldError struct {
	Field  string // JSON path, e.g. "mounts[3].source"
	Reason string
	Kind   error // errdefs.ErrInvalidArgument or errdefs.ErrNotImplemented
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Reason }

// Unwrap makes errors.Is(err, e.Kind) hold.
func (e *FieldError) Unwrap() error { return e.Kind }

// problems collects every FieldError of one translation, so that the user
// sees every field to fix at once.
type problems []error

func (p *problems) invalid(field, format string, args ...any) {
	*p = append(*p, &FieldError{Field: field, Reason: fmt.Sprintf(format, args...), Kind: errdefs.ErrInvalidArgument})
}

func (p *problems) unsupported(field, format string, args ...any) {
	*p = append(*p, &FieldError{Field: field, Reason: fmt.Sprintf(format, args...), Kind: errdefs.ErrNotImplemented})
}

func (p *problems) add(err error) { *p = append(*p, err) }

func (p problems) err() error { return errors.Join(p...) }
