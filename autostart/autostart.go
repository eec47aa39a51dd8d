package autostart

// Start at login: the tray app (orionbridge with no arguments) starts when
// the user logs in. One file per platform does the writing, with the exact
// file or registry value beside each call: autostart_linux.go (an XDG
// autostart .desktop file), autostart_darwin.go (a LaunchAgent),
// autostart_windows.go (the HKCU Run key). The contents are built here, by
// pure functions, so Linux tests check every platform's.

import (
	"encoding/binary"
	"encoding/xml"
	"fmt"
	"orionbridge/internal/executable"
	"strings"
	"time"
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
// (C:\Program Files\…), and --at-login, by which the tray knows a start
// at sign-in (it then quits quietly when it already runs, or when start at
// login is off for this user).
func runKeyValue(exe string) string { return `"` + exe + `" --at-login` }

// Windows keeps two Run values of the same name, "Orion Bridge": the
// installer's, machine-wide (HKLM), and the user's own (HKCU, `autostart
// on`). Explorer runs every value of both keys at sign-in, so both would
// start a tray. runEntries is what the registry holds, read by
// autostart_windows.go; the decisions on it are here, pure, so Linux
// tests check them.
type runEntries struct {
	User, Machine bool // HKCU / HKLM …\Run "Orion Bridge" exists
	// The StartupApproved\Run "Orion Bridge" records (nil when absent):
	// Task Manager's and Settings' on/off switch, odd first byte = off.
	// UserApproved, in HKCU, is also `autostart off`'s per-user opt-out
	// of the machine-wide value.
	UserApproved, MachineApproved []byte
}

const (
	machineWhere = `machine-wide, from the installer: HKLM\Software\Microsoft\Windows\CurrentVersion\Run\Orion Bridge`
	userWhere    = `HKCU\Software\Microsoft\Windows\CurrentVersion\Run\Orion Bridge`
)

// approvedOff reads a StartupApproved record: the first byte is 02 (or
// 06) for on, 03 (or 07) for off, so its low bit is "off".
func approvedOff(record []byte) bool { return len(record) > 0 && record[0]&1 == 1 }

// state is whether the tray starts at this user's sign-in, and by which
// value. The machine-wide value counts unless an administrator turned it
// off for everyone (HKLM's record) or this user turned it off (HKCU's).
func (e runEntries) state() (on bool, where string) {
	switch {
	case e.Machine && !approvedOff(e.MachineApproved) && !approvedOff(e.UserApproved):
		return true, machineWhere
	case e.User && !approvedOff(e.UserApproved):
		return true, userWhere
	}
	return false, ""
}

// offNote says what keeps the tray off when a machine-wide value exists,
// or "" when nothing needs saying (no value at all).
func (e runEntries) offNote() string {
	if on, _ := e.state(); on || !e.Machine {
		return ""
	}
	if approvedOff(e.UserApproved) {
		return `turned off for this user: HKCU\Software\Microsoft\Windows\CurrentVersion\Explorer\StartupApproved\Run\Orion Bridge; the installer's HKLM Run value stays`
	}
	return `turned off for all users: HKLM\Software\Microsoft\Windows\CurrentVersion\Explorer\StartupApproved\Run\Orion Bridge`
}

// runPlan is what on or off writes under HKCU.
type runPlan struct {
	WriteUserRun  bool // set …\Run "Orion Bridge" to runKeyValue(exe)
	DeleteUserRun bool // delete …\Run "Orion Bridge"
	// DisableApproved writes an "off" StartupApproved record for "Orion
	// Bridge"; otherwise any record is deleted, so a user's earlier "off"
	// in Task Manager does not outlive `autostart on`.
	DisableApproved bool
}

// plan decides `autostart on|off` for this user. On, with the installer's
// value in force for everyone, writes no second value (two values start two
// trays) and removes one left from before the install; otherwise it writes
// the user's own. Off removes the user's value and, when the machine-wide
// value exists (which a user cannot and must not delete), records the
// per-user opt-out.
func (e runEntries) plan(on bool) runPlan {
	machine := e.Machine && !approvedOff(e.MachineApproved)
	if on {
		return runPlan{WriteUserRun: !machine, DeleteUserRun: machine}
	}
	return runPlan{DeleteUserRun: true, DisableApproved: e.Machine}
}

// disabledRecord is the StartupApproved value Task Manager writes for
// "off": 03 00 00 00, then the time it was turned off as a FILETIME (100 ns
// intervals since 1601-01-01 UTC, little-endian).
func disabledRecord(at time.Time) []byte {
	const unixToFiletime = 116444736000000000 // 1601 to 1970 in 100 ns
	b := make([]byte, 12)
	b[0] = 3
	binary.LittleEndian.PutUint64(b[4:], uint64(at.UnixNano()/100+unixToFiletime))
	return b
}
