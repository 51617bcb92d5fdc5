package shares

import (
	"fmt"
	"path"
	"strings"

	"github.com/containerd/errdefs"

	agent "github.com/runxen/runxen/guest-agent/api/v1"
)

// Cache is a 9p cache mode, Linux's cache= mount option.
type Cache string

// Cache modes the agent mounts with. Others Linux knows (fscache,
// readahead) need what the guest lacks (cachefilesd) or gain nothing over
// these.
const (
	CacheNone  Cache = "none"
	CacheMMap  Cache = "mmap"
	CacheLoose Cache = "loose"
)

// Defaults and bounds.
const (
	// DefaultMsize is 256 KiB: with dom0's default ring order 8 (512 KiB
	// each way per ring) two requests fit in each ring at once, and
	// larger messages measured no faster (docs/design/filesharing.md).
	DefaultMsize = 256 << 10
	// DefaultCache keeps the guest's view of a share current with dom0's
	// (docker cp into a running container is seen at once) while letting
	// programs map files shared and writable.
	DefaultCache = CacheMMap
	// MinMsize is Linux's smallest useful msize (it refuses less than 4
	// KiB; a few KiB leaves nothing for data).
	MinMsize = 8 << 10
	// MaxMsize is the largest message Linux's Xen transport carries.
	MaxMsize = 512 << 10
	// maxTargetLen is PATH_MAX.
	maxTargetLen = 4096
)

// forbidden are the guest's kernel file systems: a share mounted over or
// inside them would break the agent.
var forbidden = []string{"/proc", "/sys", "/dev"}

// Request is one checked mount request.
type Request struct {
	Tag      string
	Target   string
	ReadOnly bool
	Msize    uint32
	Cache    Cache
}

// ParseRequest checks a MountShareRequest and fills in the defaults. Its
// errors wrap errdefs.ErrInvalidArgument.
func ParseRequest(r *agent.MountShareRequest) (Request, error) {
	bad := func(format string, args ...any) (Request, error) {
		return Request{}, fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), errdefs.ErrInvalidArgument)
	}
	if err := agent.CheckShareTag(r.GetTag()); err != nil {
		return bad("%v", err)
	}
	if err := checkTarget(r.GetTarget()); err != nil {
		return bad("%v", err)
	}
	q := Request{Tag: r.GetTag(), Target: r.GetTarget(), ReadOnly: r.GetReadOnly(), Msize: r.GetMsize()}
	switch {
	case q.Msize == 0:
		q.Msize = DefaultMsize
	case q.Msize < MinMsize || q.Msize > MaxMsize:
		return bad("msize %d: want %d to %d bytes", q.Msize, MinMsize, MaxMsize)
	}
	switch r.GetCache() {
	case agent.ShareCache_SHARE_CACHE_DEFAULT:
		q.Cache = DefaultCache
	case agent.ShareCache_SHARE_CACHE_NONE:
		q.Cache = CacheNone
	case agent.ShareCache_SHARE_CACHE_MMAP:
		q.Cache = CacheMMap
	case agent.ShareCache_SHARE_CACHE_LOOSE:
		q.Cache = CacheLoose
	default:
		return bad("cache mode %d is not one this agent knows", r.GetCache())
	}
	return q, nil
}

func checkTarget(t string) error {
	switch {
	case t == "":
		return fmt.Errorf("share target is empty")
	case len(t) > maxTargetLen:
		return fmt.Errorf("share target is %d bytes, longer than %d", len(t), maxTargetLen)
	case strings.IndexByte(t, 0) >= 0:
		return fmt.Errorf("share target %q contains a NUL byte", t)
	case !path.IsAbs(t) || path.Clean(t) != t:
		return fmt.Errorf("share target %q: want an absolute path in clean form (no \"..\", \".\", \"//\" or trailing \"/\")", t)
	case t == "/":
		return fmt.Errorf("share target %q: the guest's root cannot be covered", t)
	}
	for _, f := range forbidden {
		if t == f || strings.HasPrefix(t, f+"/") {
			return fmt.Errorf("share target %q is inside %s, a kernel file system of the guest", t, f)
		}
	}
	return nil
}

// Options returns the 9p mount options of the request.
func (q Request) Options() string {
	return fmt.Sprintf("trans=xen,version=9p2000.L,msize=%d,cache=%s", q.Msize, q.Cache)
}
