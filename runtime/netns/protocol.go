package netns

// The holder program's contract with NewHolder. The holder is this very
// binary, re-executed through /proc/self/exe; the init in child_linux.go
// recognises it by its argv[0] AND its id variable, so neither a stray
// environment variable nor a process renamed by chance turns a shim into
// a holder.
const (
	holderArgv0 = "runxen-netns-holder"
	envID       = "RUNXEN_NETNS_HOLDER"        // the holder's id (also argv[1], for ps)
	envParent   = "RUNXEN_NETNS_HOLDER_PARENT" // the pid of the process that started it
)
