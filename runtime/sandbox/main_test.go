package sandbox

import (
	"flag"
	"io"
	"os"
	"testing"

	"github.com/containerd/log"
)

func TestMain(m *testing.M) {
	// The sandbox logs every step at info; keep test output for failures.
	flag.Parse()
	if !testing.Verbose() {
		log.L.Logger.SetOutput(io.Discard)
	}
	os.Exit(m.Run())
}
