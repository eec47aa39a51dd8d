package config

import "orionbridge/internal/machinedir"

// PrepareManagedDir creates the managed config's folder: on Windows the
// machine data folder, locked down (internal/machinedir.Prepare).
func PrepareManagedDir(dir string) error { return machinedir.Prepare(dir) }
