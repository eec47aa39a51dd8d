//go:build !windows

package app

import (
	"fmt"
	"os"
)

// prepareManagedDir creates the managed config's folder. On Linux and macOS
// it sits under /etc or /Library, which only root can write, so the usual
// mode is enough.
func prepareManagedDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	return nil
}
