//go:build !windows

package machinedir

import (
	"fmt"
	"os"
)

// Prepare creates the machine data folder dir. On Linux and macOS it sits
// under /var/lib, /etc or /Library, which only root can write, so the usual
// mode is enough.
func Prepare(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	return nil
}
