package config

import (
	"os"
	"path/filepath"

	"golang.org/x/sys/windows"
)

// defaultManagedConfigPath is the machine-wide config IT deploys, in
// ProgramData (C:\ProgramData), which the MSI's public properties write.
// The folder comes from the shell's known folder, not from %ProgramData%:
// a user can set that variable in their own environment and so make their
// bridge ignore IT's file, and Wine gives services another value than its
// registry holds (installer/wine, TestMSIService). The variable is only
// the fallback when the known folder cannot be read.
func defaultManagedConfigPath() string {
	dir, err := windows.KnownFolderPath(windows.FOLDERID_ProgramData, 0)
	if err != nil || dir == "" {
		dir = os.Getenv("ProgramData")
	}
	if dir == "" {
		dir = `C:\ProgramData`
	}
	return filepath.Join(dir, "OrionBridge", "config.toml")
}
