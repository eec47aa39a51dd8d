package cli

// Linux: systemd, and only systemd. kardianos/service would fall back to
// Upstart, OpenRC or SysV init scripts, and in the end always to SysV; Orion
// Bridge supports systemd only and says so instead of writing an init
// script nothing runs.
//
// What each subcommand makes kardianos/service v1.3.0 run
// (service_systemd_linux.go); a user unit gets --user where shown:
//
//	install    write ~/.config/systemd/user/orionbridge.service (--user)
//	           or /etc/systemd/system/orionbridge.service (--system), then
//	           systemctl enable [--user] orionbridge.service
//	           systemctl daemon-reload [--user]
//	uninstall  systemctl stop [--user] orionbridge.service (when running)
//	           systemctl disable [--user] orionbridge.service
//	           rm the unit file; systemctl daemon-reload [--user]
//	start      systemctl start [--user] orionbridge.service
//	stop       systemctl stop [--user] orionbridge.service
//	restart    systemctl restart [--user] orionbridge.service
//	status     systemctl is-active orionbridge.service [--user], and when
//	           inactive: systemctl list-unit-files -t service orionbridge.service [--user]

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"time"

	"github.com/kardianos/service"
)

// defaultServiceScope: a user unit needs no root, and runs the bridge as
// the person whose browsers trust its CA.
const defaultServiceScope = scopeUser

// systemdBooted exists when systemd is PID 1: the test sd_booted(3) makes,
// and kardianos/service's first. A variable so tests can point it away.
var systemdBooted = "/run/systemd/system"

// userManagerProbe asks the user's systemd instance for its state; a
// variable so tests can replace it.
var userManagerProbe = []string{"systemctl", "--user", "is-system-running"}

func checkServiceScope(serviceScope) error { return nil }

// serviceSystem returns kardianos/service's systemd backend, or says why
// there is no service manager to use.
func serviceSystem(scope serviceScope) (service.System, error) {
	if _, err := os.Stat(systemdBooted); err != nil {
		return nil, errors.New("no service manager: systemd is not running on this machine (is this a container?); " +
			"Orion Bridge supports only systemd on Linux: run `orionbridge run` under your own supervisor")
	}
	if scope == scopeUser {
		if err := checkUserManager(); err != nil {
			return nil, err
		}
	}
	// Picked by name, not by kardianos's own detection, which ends in SysV.
	for _, s := range service.AvailableSystems() {
		if s.String() == "linux-systemd" {
			return s, nil
		}
	}
	return nil, errors.New("no service manager: this build of kardianos/service has no systemd backend")
}

// checkUserManager makes sure `systemctl --user` will reach a user manager.
// pam_systemd starts one at login and sets XDG_RUNTIME_DIR; su, sudo -i and
// some ssh or container set-ups have none, and kardianos's systemctl calls
// would fail with "Failed to connect to bus".
func checkUserManager() error {
	// The user manager's private socket: $XDG_RUNTIME_DIR/systemd/private.
	if d := os.Getenv("XDG_RUNTIME_DIR"); filepath.IsAbs(d) {
		if _, err := os.Stat(filepath.Join(d, "systemd", "private")); err == nil {
			return nil
		}
	}
	// Otherwise ask: systemctl --user is-system-running prints running,
	// degraded, starting… (exit status 0 only for running), and "offline"
	// or nothing without a manager. It can wait for a bus, hence the limit.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, userManagerProbe[0], userManagerProbe[1:]...).Output()
	answer := strings.TrimSpace(string(out))
	switch answer {
	case "initializing", "starting", "running", "degraded", "maintenance", "stopping":
		return nil
	}
	if answer == "" && err != nil {
		answer = err.Error()
	}
	return fmt.Errorf("no service manager: systemd is running, but no user manager for %s (`%s`: %s); "+
		"log in through a desktop or an ssh session with pam_systemd, or install for the machine with sudo and --system",
		currentUserName(), strings.Join(userManagerProbe, " "), answer)
}

// serviceLocation is the unit file, where kardianos/service writes it.
func serviceLocation(c *service.Config) string {
	if c.Option["UserService"] == true {
		home, _ := os.UserHomeDir()
		return filepath.Join(home, ".config", "systemd", "user", c.Name+".service")
	}
	return "/etc/systemd/system/" + c.Name + ".service"
}

// serviceCalls is what kardianos/service runs for action, for messages.
func serviceCalls(c *service.Config, action string) string {
	user := ""
	if c.Option["UserService"] == true {
		user = " --user"
	}
	unit := c.Name + ".service"
	switch action {
	case "install":
		return fmt.Sprintf("write %s; systemctl enable%s %s; systemctl daemon-reload%s", serviceLocation(c), user, unit, user)
	case "uninstall":
		return fmt.Sprintf("systemctl disable%s %s; rm %s; systemctl daemon-reload%s", user, unit, serviceLocation(c), user)
	case "status":
		return fmt.Sprintf("systemctl is-active %s%s", unit, user)
	}
	return fmt.Sprintf("systemctl %s%s %s", action, user, unit)
}

// currentUserName names the current account in messages.
func currentUserName() string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return "this user"
}
