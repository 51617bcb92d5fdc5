// Package hooks runs a container's OCI hooks on the host, as the runtime
// spec (config.md "POSIX-platform Hooks", runtime.md "Lifecycle") asks of
// a runtime: each hook's path with its args (args[0] is argv[0]), env and
// timeout, the container's state as JSON on its stdin, one after the
// other in the spec's order.
//
// What this package owns: running one list of hooks (Run stops at the
// first failure, RunAll runs all and reports every failure), the state
// they read (NewState), and the check of a spec's hooks before anything
// is created (Validate). When each list runs, and with which status and
// pid, is the task service's business; docs/design/hooks-and-netns.md
// says where and why.
//
// A hook is host code chosen by whoever wrote the spec (dockerd, nerdctl,
// CRI), so it is trusted like the runtime itself; what is bounded is what
// it can cost the shim: its output is kept only in part (the first and
// last bytes, for the error message), a timeout kills its whole process
// group, and a process it leaves behind holding its output is not waited
// for beyond a short delay.
//
// A failed hook is an *Error that names the hook's index and path and
// carries its exit status and the kept stderr and stdout, for example:
//
//	hook 0 (/usr/local/bin/setup-net): exit status 3; stderr: no such bridge
package hooks
