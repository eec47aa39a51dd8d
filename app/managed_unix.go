//go:build !windows && !darwin

package app

// defaultManagedConfigPath is the machine-wide config IT deploys.
func defaultManagedConfigPath() string { return "/etc/orionbridge/config.toml" }
