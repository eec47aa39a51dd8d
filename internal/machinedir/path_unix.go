//go:build !windows && !darwin

package machinedir

// defaultPath follows the FHS: /var/lib holds state that programs keep
// between runs, which is what a CA and its leaf are.
func defaultPath() string { return "/var/lib/orionbridge" }
