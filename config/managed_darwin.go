package config

import (
	"path/filepath"

	"orionbridge/internal/machinedir"
)

// defaultManagedConfigPath is the machine-wide config IT deploys, in the
// machine data folder.
func defaultManagedConfigPath() string { return filepath.Join(machinedir.Default(), "config.toml") }
