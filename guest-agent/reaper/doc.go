// Package reaper is the one place in the agent that collects exited child
// processes.
//
// The agent is PID 1 (or, in tests, a child subreaper), so it inherits
// every orphan in the guest: container init processes once `runc create`
// exits, exec'd processes once `runc exec --detach` exits, and whatever
// they leave behind. Each must be waited for, or it stays a zombie. But
// reaping with wait4(-1) also collects the children the agent started
// itself (runc), whose exit statuses go-runc needs: whoever waits first
// gets the status, the other gets ECHILD. containerd's runc shim solves
// this with a reaper behind go-runc's ProcessMonitor hook, and so does
// this package:
//
//   - Every command the agent runs goes through Reaper.Start (go-runc calls
//     it through runc.Monitor), which starts it and records its PID under
//     the reaper's lock; Reap takes the same lock before deciding whom an
//     exit belongs to, so an exit is never seen before its PID is known.
//   - Reap collects every exited child (wait4(-1, WNOHANG), on each
//     SIGCHLD) and hands the exit status to the command's waiter, or, for
//     any other PID, to the handler given to New (the agent's service,
//     which matches it to a container process).
//
// Nothing else in the agent may call wait4 or exec.Cmd.Wait on its own:
// the reaper would race it. Exit statuses follow the shell convention
// containerd reports: the exit code, or 128 plus the signal number.
package reaper
