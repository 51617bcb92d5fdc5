package lab

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

var shared *Lab

// Main boots one lab for a whole test package, runs its tests and powers the lab off. Call it
// from TestMain. A lab that cannot boot after its retries fails the package with the reason.
func Main(m *testing.M) {
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Minute)
	l, err := Start(ctx, Options{})
	cancel()
	if err != nil {
		fmt.Fprintf(os.Stderr, "lab: %v\n", err)
		os.Exit(1)
	}
	shared = l
	code := m.Run()
	l.Stop()
	os.Exit(code)
}

// Get returns the package's lab and arranges for its logs to be saved if t fails.
func Get(t testing.TB) *Lab {
	t.Helper()
	if shared == nil {
		t.Fatal("lab not started: call lab.Main from TestMain")
	}
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		dir, err := shared.CollectArtifacts(t.Name())
		if err != nil {
			t.Logf("lab artifacts: could not collect all of them: %v", err)
		}
		if dir != "" {
			t.Errorf("lab artifacts (guest consoles, daemon logs, xl/xenstore state) are in %s", dir)
		}
	})
	return shared
}

// MustSh runs a bash script in dom0 and fails t unless it exits 0; it returns stdout.
func (l *Lab) MustSh(t testing.TB, script string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	r, err := l.Sh(ctx, script)
	if err != nil {
		t.Fatalf("dom0: %v", err)
	}
	if r.ExitCode != 0 {
		t.Fatalf("dom0 command failed (exit %d%s):\n$ %s\nstdout:\n%s\nstderr:\n%s", r.ExitCode, errSuffix(r.Error), script, r.Stdout, r.Stderr)
	}
	return string(r.Stdout)
}

func errSuffix(e string) string {
	if e == "" {
		return ""
	}
	return ", " + e
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// dom0Diagnostics are run in dom0 when collecting artifacts; their output is saved by name.
var dom0Diagnostics = map[string]string{
	"xl-list.txt":     "xl list -v 2>&1",
	"xenstore-ls.txt": "xenstore-ls -fp 2>&1",
	"dmesg.txt":       "dmesg 2>&1",
	"ps.txt":          "ps auxfww 2>&1",
	"mounts.txt":      "cat /proc/self/mountinfo",
	"xl-dmesg.txt":    "xl dmesg 2>&1",
}

// CollectArtifacts saves the QEMU console, dom0's /var/log (guest consoles under xen/, daemon
// logs) and a snapshot of xl and xenstore state into a fresh directory named after the test.
func (l *Lab) CollectArtifacts(name string) (string, error) {
	dir := filepath.Join(l.opts.ArtifactsDir, unsafeName.ReplaceAllString(name, "_")+"-"+time.Now().Format("150405"))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	var errs []string
	if l.m != nil {
		if err := copyFile(l.m.console, filepath.Join(dir, "qemu-console.log"), 0o644); err != nil {
			errs = append(errs, err.Error())
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for file, cmd := range dom0Diagnostics {
		r, err := l.Sh(ctx, cmd)
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		_ = os.WriteFile(filepath.Join(dir, file), append(r.Stdout, r.Stderr...), 0o644)
	}
	r, err := l.Sh(ctx, "tar -C /var/log -czf - .")
	if err == nil {
		err = untar(bytes.NewReader(r.Stdout), filepath.Join(dir, "var-log"))
	}
	if err != nil {
		errs = append(errs, "dom0 /var/log: "+err.Error())
	}
	if len(errs) > 0 {
		return dir, fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return dir, nil
}

// untar extracts regular files and directories only, and never outside dst.
func untar(r io.Reader, dst string) error {
	gz, err := gzip.NewReader(r)
	if err != nil {
		return err
	}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		target := filepath.Join(dst, filepath.Clean("/"+h.Name))
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return err
			}
			f, err := os.Create(target)
			if err != nil {
				return err
			}
			_, err = io.Copy(f, tr)
			f.Close()
			if err != nil {
				return err
			}
		}
	}
}
