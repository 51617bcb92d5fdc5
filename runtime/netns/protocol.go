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
	envJoin     = "RUNXEN_NETNS_HOLDER_JOIN"   // "1": setns into fdNetNS

	fdLifeline = 3 // read end of a pipe only the parent can write: EOF means the parent is gone
	fdStatus   = 4 // write end: readyMsg, or why the holder could not start
	fdNetNS    = 5 // the namespace to join (join mode only)

	readyMsg = "ready"

	// holderComm is the holder's command name (15 bytes at most), which
	// `ps -e` shows; exec through /proc/self/exe would leave it "exe".
	holderComm = "runxen-netns"
)
