package autostart

// macOS: a LaunchAgent, which launchd loads when the user logs in:
//
//	~/Library/LaunchAgents/com.orionreport.bridge.plist
//
// Nothing is run through launchctl: `launchctl load` now would start a
// second tray next to this one, and `launchctl unload` would quit a tray
// that launchd started. The file takes effect at the next login.

import (
	"errors"
	"fmt"
	"orionbridge/internal/replacefile"
	"os"
	"path/filepath"
)

func EntryPath() (string, error) {
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("locate ~/Library/LaunchAgents: %w", err)
	}
	return filepath.Join(home, "Library", "LaunchAgents", LaunchAgentLabel+".plist"), nil
}

// State: the agent is on when its property list exists.
func State() (on bool, where string, err error) {
	path, err := EntryPath()
	if err != nil {
		return false, "", err
	}
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return false, path, nil
	} else if err != nil {
		return false, path, fmt.Errorf("read %s: %w", path, err)
	}
	return true, path, nil
}

// enableAutostart writes ~/Library/LaunchAgents/com.orionreport.bridge.plist,
// atomically and durably (replacefile.WriteFile): launchd must never read
// half a property list. A missing LaunchAgents folder is created private
// to the user; the list itself is 0644, as launchd expects of an agent.
func enableAutostart(exe string) (string, error) {
	path, err := EntryPath()
	if err != nil {
		return "", err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("create %s: %w", dir, err)
	}
	return path, replacefile.WriteFile(path, []byte(launchAgentPlist(exe)), 0o644)
}

// disableAutostart removes ~/Library/LaunchAgents/com.orionreport.bridge.plist.
func disableAutostart() error {
	path, err := EntryPath()
	if err != nil {
		return err
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove %s: %w", path, err)
	}
	return nil
}
