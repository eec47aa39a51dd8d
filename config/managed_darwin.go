package config

// defaultManagedConfigPath is the machine-wide config IT deploys.
func defaultManagedConfigPath() string {
	return "/Library/Application Support/OrionBridge/config.toml"
}
