package engine

import (
	"runtime"
	"syscall"
)

// engineProcAttr puts the engine in a process group of its own, so a
// Ctrl-C in the terminal reaches only the bridge, which stops the engine in
// order. Pdeathsig stops the engine if the bridge dies without doing so.
func engineProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}

// lockThreadForChild keeps the goroutine that starts an engine on its OS
// thread until the engine has exited: Linux sends Pdeathsig when the
// thread that forked the child ends, not the process, and the Go runtime
// may end an idle thread.
func lockThreadForChild() (unlock func()) {
	runtime.LockOSThread()
	return runtime.UnlockOSThread
}
