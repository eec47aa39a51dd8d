package machinedir

import (
	"os"
	"path/filepath"

	"golang.org/x/sys/windows"
)

// defaultPath is in ProgramData (C:\ProgramData). The folder comes from
// the shell's known folder, not from %ProgramData%: a user can set that
// variable in their own environment and so make their bridge ignore IT's
// files, and Wine gives services another value than its registry holds
// (installer/wine, TestMSIService). The variable is only the fallback when
// the known folder cannot be read.
func defaultPath() string {
	dir, err := windows.KnownFolderPath(windows.FOLDERID_ProgramData, 0)
	if err != nil || dir == "" {
		dir = os.Getenv("ProgramData")
	}
	if dir == "" {
		dir = `C:\ProgramData`
	}
	return filepath.Join(dir, "OrionBridge")
}
