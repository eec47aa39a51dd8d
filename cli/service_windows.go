package cli

// Windows: a service of the service control manager, for the machine (there
// are no per-user services), started automatically at boot and restarted 5 s
// after a failure. It runs as LocalSystem, so the bridge uses LocalSystem's
// data dir unless the config sets data_dir.
//
// What each subcommand makes kardianos/service v1.3.0 call
// (service_windows.go, through golang.org/x/sys/windows/svc/mgr), with the
// sc.exe command that does the same:
//
//	install    CreateService OrionBridge, automatic start, binary
//	           "<exe>" service run --config <FILE>      (sc.exe create)
//	           SetRecoveryActions: restart after 5 s    (sc.exe failure)
//	           an event log source OrionBridge          (HKLM\SYSTEM\CurrentControlSet\Services\EventLog\Application)
//	uninstall  ControlService STOP (when running), DeleteService (sc.exe stop, sc.exe delete)
//	start      StartService                             (sc.exe start OrionBridge)
//	stop       ControlService STOP, then wait           (sc.exe stop OrionBridge)
//	restart    stop, then StartService
//	status     QueryServiceStatus                       (sc.exe query OrionBridge)

import (
	"errors"

	"github.com/kardianos/service"
	"golang.org/x/sys/windows"
)

const defaultServiceScope = scopeSystem

func checkServiceScope(scope serviceScope) error {
	if scope == scopeUser {
		return errors.New("services on Windows belong to the machine, so --user does not apply: " +
			"use --system (the default), or `orionbridge autostart on` to start the tray app when you log in")
	}
	return nil
}

// serviceSystem is the service control manager, which every Windows has.
func serviceSystem(serviceScope) (service.System, error) {
	if s := service.ChosenSystem(); s != nil {
		return s, nil
	}
	return nil, errors.New("no service manager: kardianos/service found no service control manager")
}

// checkServicePrivilege: creating, starting and stopping services needs an
// elevated (UAC) token; without one the manager answers "Access is denied".
func checkServicePrivilege(serviceScope) error {
	if !windows.GetCurrentProcessToken().IsElevated() {
		return errors.New("needs an elevated prompt: open the terminal with \"Run as administrator\"")
	}
	return nil
}

// serviceLocation is where the manager keeps the service's definition.
func serviceLocation(c *service.Config) string {
	return `service ` + c.Name + ` (HKLM\SYSTEM\CurrentControlSet\Services\` + c.Name + `)`
}

// serviceCalls is what kardianos/service calls for action, for messages.
func serviceCalls(c *service.Config, action string) string {
	switch action {
	case "install":
		return "CreateService " + c.Name + " (sc.exe create)"
	case "uninstall":
		return "DeleteService " + c.Name + " (sc.exe delete)"
	case "start":
		return "StartService " + c.Name + " (sc.exe start)"
	case "stop":
		return "ControlService " + c.Name + " STOP (sc.exe stop)"
	case "restart":
		return "ControlService " + c.Name + " STOP, StartService (sc.exe stop, sc.exe start)"
	}
	return "QueryServiceStatus " + c.Name + " (sc.exe query)"
}
