package sysinit

// Exited is a child process that ReapChildren collected.
type Exited struct {
	PID int
	// Status is the exit code, or 128 plus the signal number for a child
	// killed by a signal, as shells report it.
	Status int
}
