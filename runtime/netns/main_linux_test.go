package netns

import (
	"context"
	"fmt"
	"os"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// The crash tests need a "shim" they can kill: this test binary run again
// with fakeShimEnv set. It starts one holder and parks.
const (
	fakeShimEnv          = "RUNXEN_NETNS_TEST_FAKE_SHIM" // the holder id
	fakeShimNoPdeathsig  = "RUNXEN_NETNS_TEST_NO_PDEATHSIG"
	fakeShimNoLifeline   = "RUNXEN_NETNS_TEST_NO_LIFELINE"
	fakeShimReadyLineFmt = "holder %d\n"
)

func TestMain(m *testing.M) {
	if id := os.Getenv(fakeShimEnv); id != "" {
		fakeShim(id)
	}
	os.Exit(m.Run())
}

func fakeShim(id string) {
	testOptions = options{
		noPdeathsig: os.Getenv(fakeShimNoPdeathsig) == "1",
		noLifeline:  os.Getenv(fakeShimNoLifeline) == "1",
	}
	spec := &specs.Spec{Linux: &specs.Linux{Namespaces: []specs.LinuxNamespace{{Type: specs.NetworkNamespace}}}}
	h, err := NewHolder(context.Background(), id, spec)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	fmt.Printf(fakeShimReadyLineFmt, h.Pid())
	select {} // until killed
}
