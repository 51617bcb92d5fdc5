//go:build !linux

package gnttab

// Sharer grants local pages to other domains; on this system it cannot be
// opened.
type Sharer struct{}

// OpenSharer fails with ErrNotSupported.
func OpenSharer() (*Sharer, error) { return nil, ErrNotSupported }

// OpenSharerPath fails with ErrNotSupported.
func OpenSharerPath(string) (*Sharer, error) { return nil, ErrNotSupported }

func (*Sharer) Close() error { return ErrNotSupported }

func (*Sharer) Share(uint16, int, bool, *UnmapNotify) (*Shared, error) {
	return nil, ErrNotSupported
}

// Shared is a local area granted to another domain.
type Shared struct{}

func (*Shared) Mem() []byte    { return nil }
func (*Shared) Refs() []Ref    { return nil }
func (*Shared) Unshare() error { return ErrNotSupported }

// Mapper maps pages other domains granted; on this system it cannot be
// opened.
type Mapper struct{}

// OpenMapper fails with ErrNotSupported.
func OpenMapper() (*Mapper, error) { return nil, ErrNotSupported }

// OpenMapperPath fails with ErrNotSupported.
func OpenMapperPath(string) (*Mapper, error) { return nil, ErrNotSupported }

func (*Mapper) Close() error { return ErrNotSupported }

func (*Mapper) Map(uint32, []Ref, bool, *UnmapNotify) (*Mapping, error) {
	return nil, ErrNotSupported
}

// Mapping is a local view of pages granted by another domain.
type Mapping struct{}

func (*Mapping) Mem() []byte                      { return nil }
func (*Mapping) Unmap() error                     { return ErrNotSupported }
func (*Mapping) SetUnmapNotify(UnmapNotify) error { return ErrNotSupported }
