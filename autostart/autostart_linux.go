package autostart

// Linux: an XDG autostart entry (Desktop Application Autostart
// Specification), which GNOME, KDE, Xfce, Cinnamon, MATE and LXQt all read
// at login:
//
//	$XDG_CONFIG_HOME/autostart/orionbridge.desktop
//	(~/.config/autostart/orionbridge.desktop when XDG_CONFIG_HOME is unset)
//
// The deb and rpm install a system-wide entry, /etc/xdg/autostart/
// orionbridge.desktop. The spec lets a user's entry of the same name
// override it: "off" then writes a user entry with Hidden=true rather than
// deleting anything of IT's, and "on" removes that override, so the tray
// never starts twice.

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"orionbridge/internal/replacefile"
	"os"
	"path/filepath"
	"strings"
)

// EntryPath is where the entry lives. The spec says to ignore a
// relative $XDG_CONFIG_HOME, as userDataDir does for $XDG_DATA_HOME.
func EntryPath() (string, error) {
	dir := os.Getenv("XDG_CONFIG_HOME")
	if !filepath.IsAbs(dir) {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("locate the autostart folder: %w", err)
		}
		dir = filepath.Join(home, ".config")
	}
	return filepath.Join(dir, "autostart", "orionbridge.desktop"), nil
}

// SystemEntryPath is the entry the Linux packages install; tests point
// it elsewhere.
var SystemEntryPath = "/etc/xdg/autostart/orionbridge.desktop"

func haveSystemAutostart() bool {
	_, err := os.Stat(SystemEntryPath)
	return err == nil
}

// State reads the entry. A desktop's own "startup applications"
// switch turns an entry off without deleting it, by Hidden=true (the spec)
// or X-GNOME-Autostart-enabled=false (GNOME), so both count as off.
func State() (on bool, where string, err error) {
	path, err := EntryPath()
	if err != nil {
		return false, "", err
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		if haveSystemAutostart() {
			return true, SystemEntryPath, nil
		}
		return false, path, nil
	}
	if err != nil {
		return false, path, fmt.Errorf("read %s: %w", path, err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		key, value, _ := strings.Cut(sc.Text(), "=")
		key, value = strings.TrimSpace(key), strings.TrimSpace(value)
		if (key == "Hidden" && value == "true") || (key == "X-GNOME-Autostart-enabled" && value == "false") {
			return false, path, nil
		}
	}
	return true, path, nil
}

// enableAutostart writes $XDG_CONFIG_HOME/autostart/orionbridge.desktop.
func enableAutostart(exe string) (string, error) {
	path, err := EntryPath()
	if err != nil {
		return "", err
	}
	if haveSystemAutostart() {
		// The packaged entry starts the tray; drop the user's override.
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("remove %s: %w", path, err)
		}
		return SystemEntryPath, nil
	}
	entry, err := DesktopEntry(exe)
	if err != nil {
		return "", err
	}
	return path, writeEntry(path, entry)
}

// disableAutostart removes $XDG_CONFIG_HOME/autostart/orionbridge.desktop.
func disableAutostart() error {
	path, err := EntryPath()
	if err != nil {
		return err
	}
	if haveSystemAutostart() {
		// Hidden=true in the user's entry hides the system one (the spec).
		return writeEntry(path, "[Desktop Entry]\nType=Application\nName=Orion Bridge\nHidden=true\n")
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove %s: %w", path, err)
	}
	return nil
}

// writeEntry replaces the user's entry at path with content, atomically
// and durably (replacefile.WriteFile), so a crash at login time never
// leaves a half entry that the desktop would ignore or misread. A missing
// autostart folder (and ~/.config) is created private to the user, as the
// XDG Base Directory spec asks; the entry is 0644, like the packaged one.
func writeEntry(path, content string) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	return replacefile.WriteFile(path, []byte(content), 0o644)
}
