package lab

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
)

// Pinned versions of the tools the lab builds from the Go module proxy; Debian trixie ships
// none of them (see docs/lab.md for why these versions).
const (
	Containerd2Version = "v2.2.9"
	NerdctlVersion     = "v2.0.5"
	CrictlVersion      = "v1.34.0"
)

// hostTools are binaries built on the host and installed into the dom0 image.
type hostTools struct {
	dir string // holds bin/
	key string
}

// newHostTools names the tools' cache entry from their inputs, without building anything: a
// cached dom0 image already holds them.
func newHostTools(o Options) (*hostTools, error) {
	goVersion, err := exec.Command("go", "env", "GOVERSION").Output()
	if err != nil {
		return nil, fmt.Errorf("lab tools: need the go toolchain: %w", err)
	}
	key := cacheKey(Containerd2Version, NerdctlVersion, CrictlVersion, strings.TrimSpace(string(goVersion)), runtime.GOARCH)
	return &hostTools{dir: filepath.Join(o.CacheDir, "tools", key), key: key}, nil
}

// build fills the tools' cache entry unless it is already complete.
func (t *hostTools) build(ctx context.Context, p *progress) error {
	err := cached(t.dir, func(dir string) error {
		bin := filepath.Join(dir, "bin")
		logs := filepath.Join(dir, "build.log")
		_, err := p.step("build containerd "+Containerd2Version+" + ctr, crictl "+CrictlVersion+", nerdctl "+NerdctlVersion+" (go)", func(status func(string)) error {
			env := append(os.Environ(), "GOBIN="+bin, "CGO_ENABLED=0", "GOFLAGS=-buildvcs=false -trimpath")
			status("containerd, ctr")
			if err := goRun(ctx, "", env, logs, "install",
				"github.com/containerd/containerd/v2/cmd/containerd@"+Containerd2Version,
				"github.com/containerd/containerd/v2/cmd/ctr@"+Containerd2Version); err != nil {
				return err
			}
			status("crictl")
			if err := goRun(ctx, "", env, logs, "install", "sigs.k8s.io/cri-tools/cmd/crictl@"+CrictlVersion); err != nil {
				return err
			}
			status("nerdctl")
			return buildNerdctl(ctx, dir, env, logs)
		})
		return err
	})
	if err != nil {
		return fmt.Errorf("lab tools: %w", err)
	}
	return nil
}

// buildNerdctl builds nerdctl from a scratch module: `go install nerdctl@version` fails because
// nerdctl's go.mod carries replace directives, and the checksum database has no record of
// nerdctl v2 as served by the proxy (docs/lab.md).
func buildNerdctl(ctx context.Context, dir string, env []string, logs string) error {
	src := filepath.Join(dir, "nerdctl-src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		return err
	}
	mod := "module runxen.lab/nerdctl\n\ngo 1.24\n\nrequire github.com/containerd/nerdctl/v2 " + NerdctlVersion + "\n"
	if err := os.WriteFile(filepath.Join(src, "go.mod"), []byte(mod), 0o644); err != nil {
		return err
	}
	env = append(env, "GONOSUMDB=github.com/containerd/nerdctl", "GOFLAGS=-buildvcs=false -trimpath -mod=mod")
	if err := goRun(ctx, src, env, logs, "build", "-o", filepath.Join(dir, "bin", "nerdctl"), "github.com/containerd/nerdctl/v2/cmd/nerdctl"); err != nil {
		return err
	}
	return os.RemoveAll(src)
}

func goRun(ctx context.Context, dir string, env []string, logPath string, args ...string) error {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	fmt.Fprintf(logf, "$ go %s\n", strings.Join(args, " "))
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr = dir, env, logf, logf
	if err := cmd.Run(); err != nil {
		tail, _ := os.ReadFile(logPath)
		if len(tail) > 3000 {
			tail = tail[len(tail)-3000:]
		}
		return fmt.Errorf("go %s: %w (log %s):\n%s", args[0], err, logPath, tail)
	}
	return nil
}

// install copies the tools into a dom0 root file system: containerd 2.x lives apart from
// Debian's containerd 1.7 so both can run.
func (t *hostTools) install(root string) error {
	dest := map[string]string{
		"containerd": "opt/containerd2/bin/containerd",
		"ctr":        "opt/containerd2/bin/ctr",
		"crictl":     "usr/local/bin/crictl",
		"nerdctl":    "usr/local/bin/nerdctl",
	}
	for name, rel := range dest {
		dst := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if err := copyFile(filepath.Join(t.dir, "bin", name), dst, 0o755); err != nil {
			return fmt.Errorf("install %s: %w", name, err)
		}
	}
	return nil
}
