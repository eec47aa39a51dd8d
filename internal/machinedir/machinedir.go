// Package machinedir names the machine data folder: what an administrator's
// install keeps for every user of the computer (the machine certificate,
// the browser-policy record, and on Windows and macOS the managed config).
// Only administrators may change it; every user may read it.
package machinedir

import (
	"os"
	"path/filepath"
)

// Env points Path elsewhere, for tests and for trying a machine setup
// without root. It only changes where this process looks: a user who sets
// it for their own bridge gains nothing they could not do with their own
// per-user certificate.
const Env = "ORIONBRIDGE_MACHINE_DIR"

// Path is the machine data folder: %ProgramData%\OrionBridge,
// /Library/Application Support/OrionBridge or /var/lib/orionbridge.
func Path() string {
	if p := os.Getenv(Env); filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return Default()
}

// Default is the machine data folder whatever Env says. The managed config
// is read from here: a user must not be able to make their own bridge
// ignore IT's settings by setting a variable.
func Default() string { return defaultPath() }
