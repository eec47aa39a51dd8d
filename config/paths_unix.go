//go:build !windows && !darwin

package config

import (
	"os"
	"path/filepath"
)

// userDataDir follows the XDG base directory spec, which says to ignore a
// relative $XDG_DATA_HOME.
func userDataDir() (string, error) {
	if d := os.Getenv("XDG_DATA_HOME"); filepath.IsAbs(d) {
		return d, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(home, ".local", "share"), nil
}
