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
	"golang.org/x/sys/windows/svc"
)

// kardianos/service decides once, at init, whether this process is a
// service: golang.org/x/sys/windows/svc.IsWindowsService, true when the
// parent is services.exe in session 0. Only then does its Run connect to
// the service control manager (StartServiceCtrlDispatcher); otherwise it
// runs the program until Ctrl-C, as at a prompt. Under Wine services.exe
// runs in session 1, like every Wine process, so `service run` started by
// the manager never connected: the bridge served, the manager got no
// SERVICE_RUNNING, and after its timeout StartService failed with "Service
// request timeout" and the process was killed. A Windows that runs
// services outside session 0 would fail the same way.
//
// So `service run` asks the manager itself when the heuristic says "not a
// service": StartServiceCtrlDispatcher fails at once with
// ERROR_FAILED_SERVICE_CONTROLLER_CONNECT (1063) when no manager started
// the process (documented for Windows, and seen under Wine), and only then
// does it run as at a prompt. Where the heuristic says "service"
// (every real Windows service), kardianos's own Run is used unchanged.
func init() {
	if sys := service.ChosenSystem(); sys != nil {
		service.ChooseSystem(dispatchingSystem{sys})
	}
}

// dispatchingSystem is kardianos's Windows system whose services' Run
// tries the control dispatcher (see init).
type dispatchingSystem struct{ service.System }

func (d dispatchingSystem) New(i service.Interface, c *service.Config) (service.Service, error) {
	s, err := d.System.New(i, c)
	if err != nil {
		return nil, err
	}
	return dispatchingService{Service: s, name: c.Name}, nil
}

// dispatchingService is a kardianos service whose Run connects to the
// service control manager even when kardianos took the process for an
// interactive one.
type dispatchingService struct {
	service.Service
	name string
}

func (s dispatchingService) Run() error {
	// kardianos's service implements svc.Handler (its Execute answers the
	// manager's requests); the same Execute runs here as on Windows.
	handler, ok := s.Service.(svc.Handler)
	if !service.Interactive() || !ok {
		return s.Service.Run()
	}
	// A Start or Stop error that kardianos's Execute keeps for its own Run
	// is not returned here; the exit code Execute gives the manager (1 or
	// 2) still tells it that the service failed.
	err := svc.Run(s.name, handler)
	if errors.Is(err, windows.ERROR_FAILED_SERVICE_CONTROLLER_CONNECT) {
		// Started at a prompt, not by the manager: run until Ctrl-C.
		return s.Service.Run()
	}
	return err
}

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
