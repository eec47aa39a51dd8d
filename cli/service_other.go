//go:build !linux && !darwin && !windows

package cli

import (
	"fmt"
	"runtime"

	"github.com/kardianos/service"
)

// Orion Bridge installs services on Linux (systemd), macOS and Windows only.
const defaultServiceScope = scopeSystem

func checkServiceScope(serviceScope) error { return nil }

func serviceSystem(serviceScope) (service.System, error) {
	return nil, fmt.Errorf("no service manager: Orion Bridge installs services on Linux (systemd), macOS and Windows, not %s: "+
		"run `orionbridge run` under your own supervisor", runtime.GOOS)
}

func checkServicePrivilege(serviceScope) error { return nil }

func serviceLocation(c *service.Config) string { return c.Name }

func serviceCalls(c *service.Config, action string) string { return action + " " + c.Name }
