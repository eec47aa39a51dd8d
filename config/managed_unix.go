//go:build !windows && !darwin

package config

// defaultManagedConfigPath is the machine-wide config IT deploys.
func defaultManagedConfigPath() string { return "/etc/orionbridge/config.toml" }
