//go:build !windows

package autostart

// OffNote: only Windows has a machine-wide entry that a user turns off
// without deleting it (on Linux, a Hidden=true user entry; State covers it).
func OffNote() string { return "" }
