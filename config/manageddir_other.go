//go:build !windows

package config

import (
	"fmt"
	"os"
)

// PrepareManagedDir creates the managed config's folder. On Linux and macOS
// it sits under /etc or /Library, which only root can write, so the usual
// mode is enough.
func PrepareManagedDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	return nil
}
