//go:build !linux

package evtchn

import (
	"context"
	"time"
)

// Handle is an open event channel device; on this system none can be
// opened and every method fails with ErrNotSupported.
type Handle struct{}

// Open fails with ErrNotSupported.
func Open() (*Handle, error) { return nil, ErrNotSupported }

// OpenPath fails with ErrNotSupported.
func OpenPath(string) (*Handle, error) { return nil, ErrNotSupported }

func (*Handle) BindInterdomain(uint32, Port) (Port, error) { return 0, ErrNotSupported }
func (*Handle) BindUnboundPort(uint32) (Port, error)       { return 0, ErrNotSupported }
func (*Handle) BindVIRQ(uint32) (Port, error)              { return 0, ErrNotSupported }
func (*Handle) Unbind(Port) error                          { return ErrNotSupported }
func (*Handle) Notify(Port) error                          { return ErrNotSupported }
func (*Handle) Reset() error                               { return ErrNotSupported }
func (*Handle) RestrictDomain(uint16) error                { return ErrNotSupported }
func (*Handle) Unmask(Port) error                          { return ErrNotSupported }
func (*Handle) SetReadDeadline(time.Time) error            { return ErrNotSupported }
func (*Handle) Wait([]Port) (int, error)                   { return 0, ErrNotSupported }
func (*Handle) WaitContext(context.Context, []Port) (int, error) {
	return 0, ErrNotSupported
}
func (*Handle) Close() error { return ErrNotSupported }
