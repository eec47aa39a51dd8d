// Package executable says where this program is, as a service manager and
// the login items must start it.
package executable

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
)

// Path is the absolute path of this program, as the service
// manager and the login items must start it. Symbolic links are kept: a
// package manager's link (/usr/local/bin/orionbridge) survives upgrades,
// the versioned directory it points to does not. An AppImage runs from a
// mount that changes every start; $APPIMAGE is the file itself.
func Path() (string, error) {
	if p := os.Getenv("APPIMAGE"); runtime.GOOS == "linux" && filepath.IsAbs(p) {
		return p, nil
	}
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("locate this program: %w", err)
	}
	return filepath.Abs(exe)
}
