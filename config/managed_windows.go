package config

import (
	"os"
	"path/filepath"
)

// defaultManagedConfigPath is the machine-wide config IT deploys, in
// %ProgramData% (C:\ProgramData), which the MSI's public properties write.
func defaultManagedConfigPath() string {
	dir := os.Getenv("ProgramData")
	if dir == "" {
		dir = `C:\ProgramData`
	}
	return filepath.Join(dir, "OrionBridge", "config.toml")
}
