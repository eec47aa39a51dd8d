//go:build !(linux || freebsd || openbsd || netbsd)

package tray

// trayHostReachable: Windows and macOS always have a tray (notification
// area, menu bar).
func trayHostReachable() bool { return true }
