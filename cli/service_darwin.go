package cli

// macOS: launchd. --user installs a LaunchAgent, which runs while you are
// logged in; --system a LaunchDaemon, which runs from boot (as the user who
// ran sudo; see resolveServiceSpec).
//
// What each subcommand makes kardianos/service v1.3.0 run
// (service_darwin.go):
//
//	install    write ~/Library/LaunchAgents/com.orionreport.bridge.service.plist
//	           (--user) or /Library/LaunchDaemons/com.orionreport.bridge.service.plist
//	           (--system); nothing is loaded until start
//	uninstall  launchctl unload PLIST; rm PLIST
//	start      launchctl load PLIST
//	stop       launchctl unload PLIST
//	restart    launchctl unload PLIST; launchctl load PLIST
//	status     launchctl list com.orionreport.bridge.service (a "PID" line
//	           means running), else whether PLIST exists

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/kardianos/service"
)

const defaultServiceScope = scopeUser

func checkServiceScope(serviceScope) error { return nil }

// serviceSystem is launchd, which every macOS has.
func serviceSystem(serviceScope) (service.System, error) {
	if s := service.ChosenSystem(); s != nil {
		return s, nil
	}
	return nil, errors.New("no service manager: kardianos/service found no launchd")
}

// serviceLocation is the property list, where kardianos/service writes it.
func serviceLocation(c *service.Config) string {
	if c.Option["UserService"] == true {
		home, _ := os.UserHomeDir()
		return filepath.Join(home, "Library", "LaunchAgents", c.Name+".plist")
	}
	return "/Library/LaunchDaemons/" + c.Name + ".plist"
}

// serviceCalls is what kardianos/service runs for action, for messages.
func serviceCalls(c *service.Config, action string) string {
	plist := serviceLocation(c)
	switch action {
	case "install":
		return "write " + plist
	case "uninstall":
		return fmt.Sprintf("launchctl unload %s; rm %s", plist, plist)
	case "start":
		return "launchctl load " + plist
	case "stop":
		return "launchctl unload " + plist
	case "restart":
		return fmt.Sprintf("launchctl unload %s; launchctl load %s", plist, plist)
	}
	return "launchctl list " + c.Name
}
