package hooks

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/containerd/errdefs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// script writes an executable shell script into dir and returns its path.
func script(t *testing.T, dir, name, body string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func timeout(s int) *int { return &s }

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestRun runs real hook programs and checks what each one saw, and how
// each failure is reported.
func TestRun(t *testing.T) {
	t.Setenv("RUNXEN_HOOKS_TEST_INHERITED", "from-the-shim")
	for _, tc := range []struct {
		name string
		// hooks builds the hooks in dir; out is a file in dir they may write.
		hooks func(t *testing.T, dir, out string) []specs.Hook
		// check inspects the outcome; err is Run's.
		check func(t *testing.T, dir, out string, state *specs.State, err error)
	}{
		{
			name: "state on stdin",
			hooks: func(t *testing.T, dir, out string) []specs.Hook {
				return []specs.Hook{{Path: script(t, dir, "h", `cat > "`+out+`"`)}}
			},
			check: func(t *testing.T, dir, out string, state *specs.State, err error) {
				mustNil(t, err)
				var got specs.State
				if err := json.Unmarshal([]byte(readFile(t, out)), &got); err != nil {
					t.Fatalf("hook read %q: %v", readFile(t, out), err)
				}
				want, _ := json.Marshal(state)
				gotJSON, _ := json.Marshal(got)
				if string(gotJSON) != string(want) {
					t.Errorf("hook read %s, want %s", gotJSON, want)
				}
			},
		},
		{
			name: "args[0] is argv[0]",
			hooks: func(t *testing.T, dir, out string) []specs.Hook {
				return []specs.Hook{{Path: "/bin/sh", Args: []string{"custom-argv0", "-c", `cat /proc/$$/cmdline > "$0"`, out}}}
			},
			check: func(t *testing.T, dir, out string, _ *specs.State, err error) {
				mustNil(t, err)
				argv := strings.Split(strings.TrimSuffix(readFile(t, out), "\x00"), "\x00")
				if len(argv) != 4 || argv[0] != "custom-argv0" || argv[3] != out {
					t.Errorf("argv = %q, want custom-argv0 -c ... %s", argv, out)
				}
			},
		},
		{
			name: "no args: argv is the path",
			hooks: func(t *testing.T, dir, out string) []specs.Hook {
				// A script's interpreter gets the script's path as argv[1]
				// in place of its argv[0]; $0 is what execve was given.
				return []specs.Hook{{Path: script(t, dir, "h", `echo "$0 $#" > "`+out+`"`)}}
			},
			check: func(t *testing.T, dir, out string, _ *specs.State, err error) {
				mustNil(t, err)
				if got, want := strings.TrimSpace(readFile(t, out)), filepath.Join(dir, "h")+" 0"; got != want {
					t.Errorf("hook saw %q, want %q", got, want)
				}
			},
		},
		{
			name: "env given: exactly that",
			hooks: func(t *testing.T, dir, out string) []specs.Hook {
				return []specs.Hook{{Path: script(t, dir, "h", `cat /proc/$$/environ > "$OUT"`),
					Env: []string{"A=1", "OUT=" + out, "B=two words"}}}
			},
			check: func(t *testing.T, dir, out string, _ *specs.State, err error) {
				mustNil(t, err)
				env := strings.Split(strings.TrimSuffix(readFile(t, out), "\x00"), "\x00")
				if want := []string{"A=1", "OUT=" + out, "B=two words"}; !slices.Equal(env, want) {
					t.Errorf("environ = %q, want %q", env, want)
				}
			},
		},
		{
			name: "env empty: empty",
			hooks: func(t *testing.T, dir, out string) []specs.Hook {
				return []specs.Hook{{Path: script(t, dir, "h", `cat /proc/$$/environ > "`+out+`"`), Env: []string{}}}
			},
			check: func(t *testing.T, dir, out string, _ *specs.State, err error) {
				mustNil(t, err)
				if got := readFile(t, out); got != "" {
					t.Errorf("environ = %q, want empty", got)
				}
			},
		},
		{
			name: "env absent: the shim's",
			hooks: func(t *testing.T, dir, out string) []specs.Hook {
				return []specs.Hook{{Path: script(t, dir, "h", `echo "$RUNXEN_HOOKS_TEST_INHERITED" > "`+out+`"`)}}
			},
			check: func(t *testing.T, dir, out string, _ *specs.State, err error) {
				mustNil(t, err)
				if got := strings.TrimSpace(readFile(t, out)); got != "from-the-shim" {
					t.Errorf("hook saw %q, want the shim's variable", got)
				}
			},
		},
		{
			name: "runs in the bundle",
			hooks: func(t *testing.T, dir, out string) []specs.Hook {
				return []specs.Hook{{Path: script(t, dir, "h", `pwd -P > "`+out+`"`)}}
			},
			check: func(t *testing.T, dir, out string, state *specs.State, err error) {
				mustNil(t, err)
				want, _ := filepath.EvalSymlinks(state.Bundle)
				if got := strings.TrimSpace(readFile(t, out)); got != want {
					t.Errorf("cwd %q, want the bundle %q", got, want)
				}
			},
		},
		{
			name: "hooks run in order, each once",
			hooks: func(t *testing.T, dir, out string) []specs.Hook {
				return []specs.Hook{
					{Path: script(t, dir, "one", `echo one >> "`+out+`"`)},
					{Path: script(t, dir, "two", `echo two >> "`+out+`"`)},
					{Path: script(t, dir, "three", `echo three >> "`+out+`"`)},
				}
			},
			check: func(t *testing.T, dir, out string, _ *specs.State, err error) {
				mustNil(t, err)
				if got := readFile(t, out); got != "one\ntwo\nthree\n" {
					t.Errorf("ran %q", got)
				}
			},
		},
		{
			name: "a failure stops the rest",
			hooks: func(t *testing.T, dir, out string) []specs.Hook {
				return []specs.Hook{
					{Path: script(t, dir, "ok", `echo ok >> "`+out+`"`)},
					{Path: script(t, dir, "fails", `echo "it went wrong" >&2; echo "some output"; exit 3`)},
					{Path: script(t, dir, "never", `echo never >> "`+out+`"`)},
				}
			},
			check: func(t *testing.T, dir, out string, _ *specs.State, err error) {
				he := mustHookError(t, err, 1, filepath.Join(dir, "fails"))
				var ee *exec.ExitError
				if !errors.As(err, &ee) || ee.ExitCode() != 3 {
					t.Errorf("error %v does not carry exit status 3", err)
				}
				if strings.TrimSpace(he.Stderr) != "it went wrong" || strings.TrimSpace(he.Stdout) != "some output" {
					t.Errorf("stderr %q, stdout %q", he.Stderr, he.Stdout)
				}
				msg := err.Error()
				for _, want := range []string{"hook 1 (" + filepath.Join(dir, "fails") + ")", "exit status 3", "stderr: it went wrong", "stdout: some output"} {
					if !strings.Contains(msg, want) {
						t.Errorf("message %q lacks %q", msg, want)
					}
				}
				if got := readFile(t, out); got != "ok\n" {
					t.Errorf("ran %q, want only the first hook", got)
				}
			},
		},
		{
			name: "killed by a signal",
			hooks: func(t *testing.T, dir, out string) []specs.Hook {
				return []specs.Hook{{Path: script(t, dir, "h", `kill -TERM $$`)}}
			},
			check: func(t *testing.T, dir, out string, _ *specs.State, err error) {
				mustHookError(t, err, 0, filepath.Join(dir, "h"))
				if !strings.Contains(err.Error(), "signal: terminated") {
					t.Errorf("message %q does not say the hook was terminated", err)
				}
			},
		},
		{
			name: "stderr is bounded",
			hooks: func(t *testing.T, dir, out string) []specs.Hook {
				return []specs.Hook{{Path: script(t, dir, "h",
					`echo FIRST >&2; head -c 1048576 /dev/zero | tr '\0' x >&2; echo; echo LAST >&2; exit 1`)}}
			},
			check: func(t *testing.T, dir, out string, _ *specs.State, err error) {
				he := mustHookError(t, err, 0, filepath.Join(dir, "h"))
				if len(he.Stderr) > maxStderr+64 {
					t.Errorf("kept %d bytes of stderr, limit %d", len(he.Stderr), maxStderr)
				}
				if !strings.HasPrefix(he.Stderr, "FIRST") || !strings.HasSuffix(he.Stderr, "LAST\n") || !strings.Contains(he.Stderr, "bytes dropped") {
					t.Errorf("stderr kept: %.80q ... %.80q", he.Stderr, he.Stderr[max(0, len(he.Stderr)-80):])
				}
			},
		},
		{
			name: "timeout kills the hook and its children",
			hooks: func(t *testing.T, dir, out string) []specs.Hook {
				return []specs.Hook{{Path: script(t, dir, "h", `sleep 60 & echo $! > "`+out+`"; echo waiting >&2; wait`), Timeout: timeout(1)}}
			},
			check: func(t *testing.T, dir, out string, _ *specs.State, err error) {
				mustHookError(t, err, 0, filepath.Join(dir, "h"))
				if !errors.Is(err, ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("error %v is not a timeout", err)
				}
				if !strings.Contains(err.Error(), "timeout of 1s") || !strings.Contains(err.Error(), "stderr: waiting") {
					t.Errorf("message %q", err)
				}
				child, _ := strconv.Atoi(strings.TrimSpace(readFile(t, out)))
				if child <= 0 {
					t.Fatalf("no child pid in %q", readFile(t, out))
				}
				deadline := time.Now().Add(5 * time.Second)
				for syscall.Kill(child, 0) == nil && !zombie(child) {
					if time.Now().After(deadline) {
						t.Fatalf("the hook's child %d outlived the timeout", child)
					}
					time.Sleep(20 * time.Millisecond)
				}
			},
		},
		{
			name: "within its timeout",
			hooks: func(t *testing.T, dir, out string) []specs.Hook {
				return []specs.Hook{{Path: script(t, dir, "h", `echo done > "`+out+`"`), Timeout: timeout(30)}}
			},
			check: func(t *testing.T, dir, out string, _ *specs.State, err error) {
				mustNil(t, err)
				if readFile(t, out) != "done\n" {
					t.Error("hook did not run")
				}
			},
		},
		{
			name: "ignores its stdin",
			hooks: func(t *testing.T, dir, out string) []specs.Hook {
				return []specs.Hook{{Path: script(t, dir, "h", `exec 0<&-; exit 0`)}}
			},
			check: func(t *testing.T, dir, out string, _ *specs.State, err error) { mustNil(t, err) },
		},
		{
			name: "leaves a child holding its output",
			hooks: func(t *testing.T, dir, out string) []specs.Hook {
				return []specs.Hook{{Path: script(t, dir, "h", `sleep 5 & echo $! > "`+out+`"; exit 0`)}}
			},
			check: func(t *testing.T, dir, out string, _ *specs.State, err error) {
				mustNil(t, err)
				if child, _ := strconv.Atoi(strings.TrimSpace(readFile(t, out))); child > 0 {
					syscall.Kill(child, syscall.SIGKILL)
				}
			},
		},
		{
			name: "missing program",
			hooks: func(t *testing.T, dir, out string) []specs.Hook {
				return []specs.Hook{{Path: filepath.Join(dir, "missing")}}
			},
			check: func(t *testing.T, dir, out string, _ *specs.State, err error) {
				mustHookError(t, err, 0, filepath.Join(dir, "missing"))
				if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "start:") {
					t.Errorf("error %v", err)
				}
			},
		},
		{
			name: "not executable",
			hooks: func(t *testing.T, dir, out string) []specs.Hook {
				p := filepath.Join(dir, "plain")
				if err := os.WriteFile(p, []byte("#!/bin/sh\n"), 0o644); err != nil {
					t.Fatal(err)
				}
				return []specs.Hook{{Path: p}}
			},
			check: func(t *testing.T, dir, out string, _ *specs.State, err error) {
				mustHookError(t, err, 0, filepath.Join(dir, "plain"))
				if !errors.Is(err, os.ErrPermission) {
					t.Errorf("error %v is not a permission error", err)
				}
			},
		},
		{
			name: "relative path",
			hooks: func(t *testing.T, dir, out string) []specs.Hook {
				return []specs.Hook{{Path: "bin/hook"}}
			},
			check: func(t *testing.T, dir, out string, _ *specs.State, err error) {
				mustHookError(t, err, 0, "bin/hook")
				if !errors.Is(err, errdefs.ErrInvalidArgument) {
					t.Errorf("error %v is not ErrInvalidArgument", err)
				}
			},
		},
		{
			name: "zero timeout",
			hooks: func(t *testing.T, dir, out string) []specs.Hook {
				return []specs.Hook{{Path: script(t, dir, "h", `echo ran > "`+out+`"`), Timeout: timeout(0)}}
			},
			check: func(t *testing.T, dir, out string, _ *specs.State, err error) {
				mustHookError(t, err, 0, filepath.Join(dir, "h"))
				if !errors.Is(err, errdefs.ErrInvalidArgument) {
					t.Errorf("error %v is not ErrInvalidArgument", err)
				}
				if _, err := os.Stat(out); err == nil {
					t.Error("the hook ran")
				}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			bundle := filepath.Join(dir, "bundle")
			if err := os.Mkdir(bundle, 0o755); err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(dir, "out")
			state := NewState("c1", specs.StateCreating, os.Getpid(), bundle, map[string]string{"k": "v"})
			start := time.Now()
			err := Run(ctxT(t), tc.hooks(t, dir, out), state)
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("Run took %v", d)
			}
			tc.check(t, dir, out, state, err)
		})
	}
}

// RunAll goes on after a failure and reports every one.
func TestRunAll(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	hooks := []specs.Hook{
		{Path: script(t, dir, "fails1", `echo first >&2; exit 1`)},
		{Path: script(t, dir, "ok", `echo ok >> "`+out+`"`)},
		{Path: script(t, dir, "fails2", `echo second >&2; exit 2`)},
	}
	err := RunAll(ctxT(t), hooks, NewState("c1", specs.StateStopped, 0, dir, nil))
	if err == nil {
		t.Fatal("RunAll: no error")
	}
	if readFile(t, out) != "ok\n" {
		t.Error("the hook after a failure did not run")
	}
	for _, want := range []string{"hook 0 (" + hooks[0].Path + "): exit status 1; stderr: first", "hook 2 (" + hooks[2].Path + "): exit status 2; stderr: second"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q lacks %q", err, want)
		}
	}
	if err := RunAll(ctxT(t), hooks[1:2], NewState("c1", specs.StateStopped, 0, dir, nil)); err != nil {
		t.Errorf("RunAll of a good hook: %v", err)
	}
}

func TestRunCanceled(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel)
	start := time.Now()
	err := Run(ctx, []specs.Hook{{Path: script(t, dir, "h", `sleep 60`)}}, NewState("c1", specs.StateCreating, 1, dir, nil))
	if !errors.Is(err, context.Canceled) || errors.Is(err, ErrTimeout) {
		t.Errorf("Run: %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Run took %v after its context was canceled", d)
	}
}

func TestRunNoHooks(t *testing.T) {
	if err := Run(ctxT(t), nil, NewState("c1", specs.StateCreating, 1, "/", nil)); err != nil {
		t.Error(err)
	}
}

func mustNil(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
}

func mustHookError(t *testing.T, err error, index int, path string) *Error {
	t.Helper()
	var he *Error
	if !errors.As(err, &he) {
		t.Fatalf("Run: %v (%T), want *Error", err, err)
	}
	if he.Index != index || he.Path != path {
		t.Errorf("error names hook %d (%s), want %d (%s)", he.Index, he.Path, index, path)
	}
	if !strings.Contains(err.Error(), path) {
		t.Errorf("message %q does not name %s", err, path)
	}
	return he
}

// zombie says whether pid has exited but not been reaped (a hook's
// orphan is reaped by whoever inherits it, which may take a moment).
func zombie(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && len(s) > i+2 && s[i+2] == 'Z'
}
