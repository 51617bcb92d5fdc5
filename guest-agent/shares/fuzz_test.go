package shares

import (
	"path"
	"strings"
	"testing"

	agent "github.com/runxen/runxen/guest-agent/api/v1"
)

// FuzzParseRequest: whatever the host sends, an accepted request has a
// tag that cannot smuggle mount options or paths, a clean absolute target
// outside the kernel's file systems, an msize in bounds and a known cache
// mode; its options are exactly the four the agent sets.
func FuzzParseRequest(f *testing.F) {
	f.Add("rootfs", "/run/runxen/rootfs/c1", false, uint32(0), int32(0))
	f.Add("vol", "/mnt/../proc", true, uint32(65536), int32(3))
	f.Add("a,cache=loose", "/x", false, uint32(1), int32(9))
	f.Add("t", "/dev", false, uint32(524288), int32(2))
	f.Fuzz(func(t *testing.T, tag, target string, ro bool, msize uint32, cache int32) {
		q, err := ParseRequest(&agent.MountShareRequest{Tag: tag, Target: target, ReadOnly: ro, Msize: msize, Cache: agent.ShareCache(cache)})
		if err != nil {
			return
		}
		if q.Tag != tag || q.Target != target || q.ReadOnly != ro {
			t.Fatalf("request changed: %+v", q)
		}
		if strings.ContainsAny(tag, ",=/ \x00") || tag == "" || len(tag) > agent.MaxShareTagLen {
			t.Fatalf("tag %q accepted", tag)
		}
		if !path.IsAbs(target) || path.Clean(target) != target || target == "/" || strings.ContainsRune(target, 0) {
			t.Fatalf("target %q accepted", target)
		}
		for _, f := range forbidden {
			if target == f || strings.HasPrefix(target, f+"/") {
				t.Fatalf("target %q inside %s accepted", target, f)
			}
		}
		if q.Msize < MinMsize || q.Msize > MaxMsize {
			t.Fatalf("msize %d accepted", q.Msize)
		}
		switch q.Cache {
		case CacheNone, CacheMMap, CacheLoose:
		default:
			t.Fatalf("cache %q", q.Cache)
		}
		if n := strings.Count(q.Options(), ","); n != 3 {
			t.Fatalf("options %q", q.Options())
		}
	})
}
