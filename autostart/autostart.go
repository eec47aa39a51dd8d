package autostart

// Start at login: the tray app (orionbridge with no arguments) starts when
// the user logs in. One file per platform does the writing, with the exact
// file or registry value beside each call: autostart_linux.go (an XDG
// autostart .desktop file), autostart_darwin.go (a LaunchAgent),
// autostart_windows.go (the HKCU Run key). The contents are built here, by
// pure functions, so Linux tests check every platform's.

import (
	"encoding/xml"
	"fmt"
	"orionbridge/internal/executable"
	"strings"
)

// Enabled reports whether the tray app starts when the current
// user logs in. It backs the tray's "Start at Login" check item.
func Enabled() (bool, error) {
	on, _, err := State()
	return on, err
}

// Set makes the tray app start, or no longer start, when the
// current user logs in. Both directions are idempotent; turning it on again
// rewrites the entry with this executable's current path.
func Set(on bool) error {
	if !on {
		return disableAutostart()
	}
	exe, err := executable.Path()
	if err != nil {
		return err
	}
	_, err = enableAutostart(exe)
	return err
}

// autostartCommand runs `orionbridge autostart on|off|status`.

// autostartComment describes the app in the desktop's list of startup
// applications.
const autostartComment = "Connects the Orion web editor to the report engine on this computer"

// DesktopEntry is the XDG autostart file for exe, following the Desktop
// Entry Specification 1.5.
func DesktopEntry(exe string) (string, error) {
	if strings.ContainsAny(exe, "\n\r") {
		return "", fmt.Errorf("the path %q has a line break, which a .desktop file cannot hold", exe)
	}
	return "[Desktop Entry]\n" +
		"Type=Application\n" +
		"Name=Orion Bridge\n" +
		"Comment=" + autostartComment + "\n" +
		"Exec=" + desktopExec(exe) + "\n" +
		"Icon=orionbridge\n" +
		"Terminal=false\n" +
		"X-GNOME-Autostart-enabled=true\n", nil
}

// desktopExec writes exe as the Exec key's value. The spec's two layers
// apply in order: an argument with a reserved character is quoted, with ",
// `, $ and \ escaped by a backslash inside the quotes, and % doubled (it
// starts field codes); then the value, like any string value, has each
// backslash doubled.
func desktopExec(exe string) string {
	arg := strings.ReplaceAll(exe, "%", "%%")
	if strings.ContainsAny(exe, " \t\"'\\><~|&;$*?#()`") {
		arg = `"` + strings.NewReplacer(`"`, `\"`, "`", "\\`", `$`, `\$`, `\`, `\\`).Replace(arg) + `"`
	}
	return strings.ReplaceAll(arg, `\`, `\\`)
}

// LaunchAgentLabel names the tray's LaunchAgent; `service` uses
// serviceNameDarwin, so the two never share a file.
const LaunchAgentLabel = "com.orionreport.bridge"

// launchAgentPlist is the LaunchAgent that starts the tray app, exe with
// no arguments, at login.
func launchAgentPlist(exe string) string {
	esc := func(s string) string {
		var e strings.Builder
		xml.EscapeText(&e, []byte(s)) // a strings.Builder never fails
		return e.String()
	}
	return `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
	<key>Label</key>
	<string>` + esc(LaunchAgentLabel) + `</string>
	<key>ProgramArguments</key>
	<array>
		<string>` + esc(exe) + `</string>
	</array>
	<key>RunAtLoad</key>
	<true/>
	<key>LimitLoadToSessionType</key>
	<string>Aqua</string>
	<key>ProcessType</key>
	<string>Interactive</string>
</dict>
</plist>
`
}

// runKeyValue is the HKCU Run value for exe: the path in quotes, because
// Windows splits an unquoted command line at its first space
// (C:\Program Files\…).
func runKeyValue(exe string) string { return `"` + exe + `"` }
