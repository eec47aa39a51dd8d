//go:build unix

package engine

import (
	"os"
	"syscall"
)

// terminateEngine asks the engine's process group to stop: the engine runs
// in a group of its own (Setpgid), so its children get SIGTERM too.
func terminateEngine(p *os.Process) error { return signalGroup(p, syscall.SIGTERM) }

// killEngine kills the engine's process group.
func killEngine(p *os.Process) error { return signalGroup(p, syscall.SIGKILL) }

func signalGroup(p *os.Process, sig syscall.Signal) error {
	if err := syscall.Kill(-p.Pid, sig); err == nil {
		return nil
	}
	// No such group: the engine is gone, or not a group leader after all.
	return p.Signal(sig)
}
