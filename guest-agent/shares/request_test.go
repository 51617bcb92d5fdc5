package shares

import (
	"errors"
	"strings"
	"testing"

	"github.com/containerd/errdefs"

	agent "github.com/runxen/runxen/guest-agent/api/v1"
)

func TestParseRequest(t *testing.T) {
	cases := []struct {
		name string
		req  *agent.MountShareRequest
		want Request // zero: an error is expected
		err  string
	}{
		{"defaults", &agent.MountShareRequest{Tag: "rootfs", Target: "/run/runxen/rootfs/c1"},
			Request{Tag: "rootfs", Target: "/run/runxen/rootfs/c1", Msize: DefaultMsize, Cache: DefaultCache}, ""},
		{"everything set", &agent.MountShareRequest{Tag: "vol-1.a_b", Target: "/mnt/v", ReadOnly: true, Msize: 65536, Cache: agent.ShareCache_SHARE_CACHE_LOOSE},
			Request{Tag: "vol-1.a_b", Target: "/mnt/v", ReadOnly: true, Msize: 65536, Cache: CacheLoose}, ""},
		{"cache none", &agent.MountShareRequest{Tag: "t", Target: "/t", Cache: agent.ShareCache_SHARE_CACHE_NONE},
			Request{Tag: "t", Target: "/t", Msize: DefaultMsize, Cache: CacheNone}, ""},
		{"cache mmap, largest msize", &agent.MountShareRequest{Tag: "t", Target: "/t", Msize: MaxMsize, Cache: agent.ShareCache_SHARE_CACHE_MMAP},
			Request{Tag: "t", Target: "/t", Msize: MaxMsize, Cache: CacheMMap}, ""},
		{"smallest msize", &agent.MountShareRequest{Tag: "t", Target: "/t", Msize: MinMsize},
			Request{Tag: "t", Target: "/t", Msize: MinMsize, Cache: DefaultCache}, ""},
		{"no tag", &agent.MountShareRequest{Target: "/t"}, Request{}, "want 1 to 63"},
		{"tag with a comma", &agent.MountShareRequest{Tag: "a,trans=fd", Target: "/t"}, Request{}, "only letters"},
		{"tag with a space", &agent.MountShareRequest{Tag: "a b", Target: "/t"}, Request{}, "only letters"},
		{"tag too long", &agent.MountShareRequest{Tag: strings.Repeat("x", 64), Target: "/t"}, Request{}, "want 1 to 63"},
		{"no target", &agent.MountShareRequest{Tag: "t"}, Request{}, "empty"},
		{"relative target", &agent.MountShareRequest{Tag: "t", Target: "mnt/t"}, Request{}, "absolute path"},
		{"dot-dot", &agent.MountShareRequest{Tag: "t", Target: "/mnt/../etc"}, Request{}, "clean form"},
		{"trailing slash", &agent.MountShareRequest{Tag: "t", Target: "/mnt/"}, Request{}, "clean form"},
		{"double slash", &agent.MountShareRequest{Tag: "t", Target: "//mnt"}, Request{}, "clean form"},
		{"dot", &agent.MountShareRequest{Tag: "t", Target: "/mnt/."}, Request{}, "clean form"},
		{"root", &agent.MountShareRequest{Tag: "t", Target: "/"}, Request{}, "root cannot"},
		{"proc", &agent.MountShareRequest{Tag: "t", Target: "/proc"}, Request{}, "kernel file system"},
		{"under sys", &agent.MountShareRequest{Tag: "t", Target: "/sys/fs/cgroup"}, Request{}, "kernel file system"},
		{"under dev", &agent.MountShareRequest{Tag: "t", Target: "/dev/shm"}, Request{}, "kernel file system"},
		{"NUL", &agent.MountShareRequest{Tag: "t", Target: "/mnt/a\x00b"}, Request{}, "NUL"},
		{"too long", &agent.MountShareRequest{Tag: "t", Target: "/" + strings.Repeat("a", 4096)}, Request{}, "longer than"},
		{"msize too small", &agent.MountShareRequest{Tag: "t", Target: "/t", Msize: 4096}, Request{}, "msize 4096"},
		{"msize too large", &agent.MountShareRequest{Tag: "t", Target: "/t", Msize: MaxMsize + 1}, Request{}, "msize"},
		{"unknown cache", &agent.MountShareRequest{Tag: "t", Target: "/t", Cache: 9}, Request{}, "cache mode 9"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParseRequest(c.req)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) || !errors.Is(err, errdefs.ErrInvalidArgument) {
					t.Fatalf("ParseRequest = %+v, %v; want an invalid-argument error with %q", got, err, c.err)
				}
				return
			}
			if err != nil || got != c.want {
				t.Fatalf("ParseRequest = %+v, %v; want %+v", got, err, c.want)
			}
		})
	}
}

func TestOptions(t *testing.T) {
	q := Request{Tag: "rootfs", Target: "/r", Msize: 262144, Cache: CacheMMap}
	if got, want := q.Options(), "trans=xen,version=9p2000.L,msize=262144,cache=mmap"; got != want {
		t.Fatalf("Options = %q, want %q", got, want)
	}
}
