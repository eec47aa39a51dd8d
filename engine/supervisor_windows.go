package engine

import (
	"os"
	"syscall"
)

// engineProcAttr starts the engine in a new process group, so a Ctrl-C in
// the bridge's console is not delivered to it; the bridge stops it itself.
func engineProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{CreationFlags: syscall.CREATE_NEW_PROCESS_GROUP}
}

// terminateEngine kills the engine: Windows has no SIGTERM to send to a
// console program in another process group.
func terminateEngine(p *os.Process) error { return p.Kill() }

func killEngine(p *os.Process) error { return p.Kill() }

func lockThreadForChild() (unlock func()) { return func() {} }
