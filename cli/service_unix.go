//go:build linux || darwin

package cli

import (
	"errors"
	"os"
)

// checkServicePrivilege: a system unit or LaunchDaemon is written where only
// root may write.
func checkServicePrivilege(scope serviceScope) error {
	if scope == scopeSystem && os.Geteuid() != 0 {
		return errors.New("needs root: run it with sudo, or use --user")
	}
	return nil
}
