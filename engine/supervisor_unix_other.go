//go:build unix && !linux

package engine

import "syscall"

// engineProcAttr puts the engine in a process group of its own, so a
// Ctrl-C in the terminal reaches only the bridge, which stops the engine in
// order.
func engineProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

func lockThreadForChild() (unlock func()) { return func() {} }
