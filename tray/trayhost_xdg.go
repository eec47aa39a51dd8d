//go:build linux || freebsd || openbsd || netbsd

package tray

import "github.com/godbus/dbus/v5"

// trayHostReachable reports whether a system tray can be set up. On these
// systems the tray is a StatusNotifierItem on the D-Bus session bus; without
// a bus, fyne.io/systray registers nothing and then crashes when the app
// quits (https://github.com/fyne-io/fyne/issues/6403), so the tray is not
// set up at all. SessionBus is the shared connection systray itself uses.
func trayHostReachable() bool {
	_, err := dbus.SessionBus()
	return err == nil
}
