//go:build !windows

package cli

// showNotice: elsewhere the tray app was started from a desktop that
// shows stderr where anyone looks (a terminal, the journal), and the log
// has the same line; no dialog.
func showNotice(title, text string) error { return nil }
