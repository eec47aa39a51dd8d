package app

import (
	"os"
	"testing"
)

// processGone reports whether no process has the id pid.
func processGone(pid int) bool {
	p, err := os.FindProcess(pid)
	if err != nil {
		return true
	}
	p.Release()
	return false
}

// checkOwnProcessGroup: Windows has no process groups to check here.
func checkOwnProcessGroup(*testing.T, int) {}
