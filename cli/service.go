package cli

// `orionbridge service …` registers the headless bridge with the OS service
// manager through github.com/kardianos/service, so it runs without anyone
// logged in to a tray. The service runs the headless build,
// orionbridge-headless, when it is beside this program (serviceExecutable).
// What each subcommand makes the library run is written in the platform's
// file: service_linux.go (systemd, and nothing else), service_darwin.go
// (launchd), service_windows.go (the service control manager). This file
// holds what they share: the arguments, the program the service runs, the
// service definition (a pure function, so every platform's is tested on
// Linux), the state line, and `service run`, the process Windows starts.

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/kardianos/service"

	"orionbridge/config"
	"orionbridge/internal/executable"
	"orionbridge/internal/replacefile"
)

const serviceUsage = "usage: orionbridge service install|uninstall|start|stop|restart|status [--config FILE] [--user|--system]"

// serviceScope says whose service it is: the user's (a systemd user unit, a
// LaunchAgent) or the machine's (a system unit, a LaunchDaemon, a Windows
// service).
type serviceScope string

const (
	scopeUser   serviceScope = "user"
	scopeSystem serviceScope = "system"
)

// serviceActions are the subcommands a person types. "run" is not among
// them: it is the entry point Windows starts (see serviceRun).
var serviceActions = []string{"install", "uninstall", "start", "stop", "restart", "status"}

// serviceRequest is a parsed `orionbridge service` command line.
type serviceRequest struct {
	action     string
	configPath string // as given; "" means the default config path
	scope      serviceScope
}

// parseServiceArgs parses `service ACTION [--config FILE] [--user|--system]`.
// ok is false when the command should exit with status at once (usage
// errors, -h).
func parseServiceArgs(args []string, stderr io.Writer) (req serviceRequest, status int, ok bool) {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		fmt.Fprintln(stderr, serviceUsage)
		return req, exitUsage, false
	}
	req.action = args[0]
	if req.action != "run" && !slices.Contains(serviceActions, req.action) {
		fmt.Fprintf(stderr, "orionbridge service: unknown subcommand %q\n%s\n", req.action, serviceUsage)
		return req, exitUsage, false
	}
	fs := newFlagSet("service "+req.action, stderr)
	configPath := fs.String("config", "", "configuration `file` the service runs with (default: your user config file)")
	user := fs.Bool("user", false, "the current user's service (a systemd user unit, a LaunchAgent)")
	system := fs.Bool("system", false, "the machine's service (a systemd system unit, a LaunchDaemon, a Windows service); needs root or an elevated prompt")
	if status, ok := parseOnlyFlags(fs, args[1:], stderr, serviceUsage); !ok {
		return req, status, false
	}
	switch {
	case *user && *system:
		fmt.Fprintln(stderr, "orionbridge service: --user and --system exclude each other: choose one")
		return req, exitUsage, false
	case *user:
		req.scope = scopeUser
	case *system:
		req.scope = scopeSystem
	default:
		req.scope = defaultServiceScope
	}
	req.configPath = *configPath
	if err := checkServiceScope(req.scope); err != nil {
		fmt.Fprintf(stderr, "orionbridge service %s: %v\n", req.action, err)
		return req, exitUsage, false
	}
	// Under sudo, a user service would be root's, which is not what the
	// person typing meant.
	if _, underSudo := invokingUser(); underSudo && req.scope == scopeUser && req.action != "run" {
		fmt.Fprintf(stderr, "orionbridge service %s: --user acts for the user who runs it, here root: run it without sudo, or use --system\n", req.action)
		return req, exitUsage, false
	}
	return req, 0, true
}

// serviceSpec is everything the service definition depends on, resolved at
// install time.
type serviceSpec struct {
	scope      serviceScope
	executable string // absolute: what the service runs (serviceExecutable)
	// headless is whether executable is the headless build, the
	// orionbridge-headless beside this program.
	headless   bool
	configPath string // absolute
	// runAs is the account a system service runs as on Linux and macOS: the
	// person who ran sudo, so the bridge serves the CA in their data dir,
	// the one their browsers trust. Empty means root (or LocalSystem).
	runAs string
	home  string // runAs's home, or the current user's
}

// Service names. On macOS the LaunchAgent that starts the tray at login
// (autostart_darwin.go) is already labelled com.orionreport.bridge, and both
// live in ~/Library/LaunchAgents, so the service needs its own label.
const (
	serviceNameLinux   = "orionbridge" // orionbridge.service
	serviceNameDarwin  = "com.orionreport.bridge.service"
	serviceNameWindows = "OrionBridge"
	serviceDisplayName = "Orion Bridge"
	serviceDescription = "Orion Bridge: serves wss://localhost for the Orion web editor and relays it to the local report engine"
)

// serviceConfig is the service definition kardianos/service installs for
// goos. It is pure so that the tests check every platform's on Linux.
func serviceConfig(goos string, s serviceSpec) *service.Config {
	c := &service.Config{
		DisplayName: serviceDisplayName,
		Description: serviceDescription,
		Executable:  s.executable,
		// The same command a person would type; `run` logs to stderr, which
		// the service manager keeps (journald, launchd's log files), and to
		// <data_dir>/logs.
		Arguments: []string{"run", "--config", s.configPath},
		UserName:  s.runAs,
		Option:    service.KeyValue{},
	}
	switch goos {
	case "windows":
		c.Name = serviceNameWindows
		// The service control manager starts a process that must answer its
		// control requests within 30 s or be killed (error 1053); `run` does
		// not speak that protocol, `service run` does.
		c.Arguments = []string{"service", "run", "--config", s.configPath}
		// LocalSystem needs no password; another account would.
		c.UserName = ""
		c.Option["StartType"] = "automatic"
		c.Option["OnFailure"] = "restart"
		c.Option["OnFailureDelayDuration"] = "5s"
		// Failures are counted over a day, then forgotten; with the single
		// restart action every failure restarts anyway.
		c.Option["OnFailureResetPeriod"] = 86400
	case "darwin":
		c.Name = serviceNameDarwin
		c.Option["UserService"] = s.scope == scopeUser
		// Start at login (agent) or boot (daemon), and again if it dies.
		c.Option["RunAtLoad"] = true
		c.Option["KeepAlive"] = true
		if s.home != "" && (s.scope == scopeUser || s.runAs != "") {
			// launchd writes stdout and stderr there as the job's user, who
			// cannot write the default, /var/log; nor should a home fill
			// up with the library's other default, ~/<label>.out.log.
			c.Option["LogDirectory"] = filepath.Join(s.home, "Library", "Logs")
		}
		if s.runAs != "" {
			// launchd sets no HOME for UserName; the bridge finds its data
			// dir there.
			c.EnvVars = map[string]string{"HOME": s.home}
		}
	default: // linux; other systems have no service support (service_other.go)
		c.Name = serviceNameLinux
		c.Option["UserService"] = s.scope == scopeUser
		c.Option["SystemdScript"] = systemdUnit(s.scope)
	}
	return c
}

// serviceCommand runs `orionbridge service …`.
func serviceCommand(meta Metadata, args []string, stdout, stderr io.Writer) int {
	req, status, ok := parseServiceArgs(args, stderr)
	if !ok {
		return status
	}
	if req.action == "run" {
		return serviceRun(meta, req.configPath, stderr)
	}
	fail := func(err error) int {
		fmt.Fprintf(stderr, "orionbridge service %s: %v\n", req.action, err)
		return exitFailure
	}
	// First whether there is a service manager at all, so that a container
	// says so, whatever was asked.
	system, err := serviceSystem(req.scope)
	if err != nil {
		return fail(err)
	}
	if req.action != "status" {
		if err := checkServicePrivilege(req.scope); err != nil {
			return fail(err)
		}
	}
	spec, err := resolveServiceSpec(req)
	if err != nil {
		return fail(err)
	}
	// The config is read for install (a bad file would make the service
	// fail at every start) and for status (its ports). A broken file must
	// not stop anyone from stopping or removing the service.
	var cfg config.Config
	if req.action == "install" || req.action == "status" || req.action == "start" || req.action == "restart" {
		if cfg, err = loadServiceConfig(req, spec); err != nil {
			fmt.Fprintln(stderr, err)
			return exitUsage
		}
	}
	conf := serviceConfig(runtime.GOOS, spec)
	svc, err := system.New(&serviceProgram{}, conf)
	if err != nil {
		return fail(fmt.Errorf("%s: %w", system.String(), err))
	}
	where := serviceLocation(conf)
	state, err := serviceState(svc)
	if err != nil {
		if req.action != "uninstall" {
			return fail(fmt.Errorf("%s: %w", serviceCalls(conf, "status"), err))
		}
		// Removing must stay possible when the manager cannot say more.
		state = stateStopped
	}

	switch req.action {
	case "status":
		fmt.Fprintln(stdout, serviceStatusLine(state, cfg))
		return exitOK
	case "install":
		if state != stateNotInstalled {
			return fail(fmt.Errorf("already installed (%s): `orionbridge service uninstall` first to change it", where))
		}
		if err := ensureConfigFile(req, spec); err != nil {
			return fail(err)
		}
		if err := svc.Install(); err != nil {
			return fail(fmt.Errorf("%s: %w", serviceCalls(conf, "install"), err))
		}
		fmt.Fprintf(stdout, "installed %s\n  runs: %s %s\n  %s\n  start it now with `orionbridge service start%s`; it also starts %s\n",
			where, spec.executable, strings.Join(conf.Arguments, " "), serviceExecutableNote(runtime.GOOS, spec.headless),
			scopeFlag(req), startsWhen(req.scope))
		warnTemporaryExecutable(stderr, spec.executable)
		return exitOK
	case "uninstall":
		if state == stateNotInstalled {
			fmt.Fprintln(stdout, "not installed")
			return exitOK
		}
		if state == stateRunning {
			if err := svc.Stop(); err != nil {
				return fail(fmt.Errorf("%s: %w", serviceCalls(conf, "stop"), err))
			}
		}
		if err := svc.Uninstall(); err != nil {
			return fail(fmt.Errorf("%s: %w", serviceCalls(conf, "uninstall"), err))
		}
		fmt.Fprintf(stdout, "uninstalled %s\n", where)
		return exitOK
	}
	if state == stateNotInstalled {
		return fail(fmt.Errorf("not installed: run `orionbridge service install%s` first", scopeFlag(req)))
	}
	switch req.action {
	case "start":
		err = svc.Start()
	case "stop":
		err = svc.Stop()
	case "restart":
		err = svc.Restart()
	}
	if err != nil {
		return fail(fmt.Errorf("%s: %w", serviceCalls(conf, req.action), err))
	}
	if req.action == "stop" {
		fmt.Fprintln(stdout, "stopped")
		return exitOK
	}
	// The manager says "started" as soon as the process exists; wait a
	// little for the bridge itself, so the line printed is the truth.
	fmt.Fprintln(stdout, waitForBridge(svc, cfg, 5*time.Second))
	return exitOK
}

// scopeFlag repeats the scope flag in a suggested command.
func scopeFlag(req serviceRequest) string {
	if req.scope == defaultServiceScope {
		return ""
	}
	return " --" + string(req.scope)
}

func startsWhen(scope serviceScope) string {
	if scope == scopeUser {
		return "when you log in"
	}
	return "when the machine boots"
}

// warnTemporaryExecutable catches `go run . service install`: the service
// would run a binary the Go tool deletes.
func warnTemporaryExecutable(stderr io.Writer, exe string) {
	if strings.HasPrefix(exe, filepath.Clean(os.TempDir())+string(filepath.Separator)) {
		fmt.Fprintf(stderr, "warning: the service runs %s, which is in the temporary directory and may be deleted: install orionbridge somewhere permanent first\n", exe)
	}
}

// resolveServiceSpec fills in the absolute paths and, for a system service
// installed under sudo, the invoking user.
func resolveServiceSpec(req serviceRequest) (serviceSpec, error) {
	s := serviceSpec{scope: req.scope}
	self, err := executable.Path()
	if err != nil {
		return s, err
	}
	// Only install writes the path into a definition; status, start, stop
	// and uninstall find the service by its name, whichever program it runs.
	s.executable, s.headless = serviceExecutable(self, runtime.GOOS)
	if owner, underSudo := invokingUser(); underSudo && req.scope == scopeSystem {
		// Like `certs install` under sudo: the default config, and the
		// account the service runs as, are the invoking user's.
		owner.useHome()
		s.runAs = os.Getenv("SUDO_USER")
	}
	if home, err := os.UserHomeDir(); err == nil {
		s.home = home
	}
	if req.configPath == "" {
		if s.configPath, err = config.DefaultPath(); err != nil {
			return s, err
		}
	} else if s.configPath, err = filepath.Abs(req.configPath); err != nil {
		return s, fmt.Errorf("config %s: %w", req.configPath, err)
	}
	return s, nil
}

// loadServiceConfig reads the config the service runs with. The default
// file may be missing (every key has its default); a file named with
// --config must exist, as `run --config` requires.
func loadServiceConfig(req serviceRequest, s serviceSpec) (config.Config, error) {
	if req.configPath == "" {
		return config.Load("")
	}
	return config.Load(s.configPath)
}

// ensureConfigFile creates the default config file when it is missing: the
// service runs `run --config FILE`, which refuses a missing file. It holds
// only a comment, so every key keeps its default, including defaults a
// later version changes; a service run as root or LocalSystem also gets
// allow_other_users.
func ensureConfigFile(req serviceRequest, s serviceSpec) error {
	if req.configPath != "" {
		return nil // loadServiceConfig has read it
	}
	if _, err := os.Stat(s.configPath); !errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	content := "# Orion Bridge configuration. Every key is optional and described in the README.\n"
	if req.scope == scopeSystem && s.runAs == "" {
		// Run as root or LocalSystem, the bridge serves no browser of its
		// own account: it is there for every user's, which the per-user
		// check (bridge/peer.go) would refuse.
		content += "\n# A system service serves the browsers of every user of this computer.\nallow_other_users = true\n"
	}
	dir := filepath.Dir(s.configPath)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create the config file: create %s: %w", dir, err)
	}
	if err := replacefile.WriteFile(s.configPath, []byte(content), 0o600); err != nil {
		return fmt.Errorf("create the config file: %w", err)
	}
	if owner, underSudo := invokingUser(); underSudo && s.runAs != "" {
		if err := owner.own(dir); err != nil {
			return fmt.Errorf("give %s back to its owner: %w", dir, err)
		}
	}
	return nil
}

// headlessExecutableName is the file name of the headless build on goos.
func headlessExecutableName(goos string) string {
	if goos == "windows" {
		return "orionbridge-headless.exe"
	}
	return "orionbridge-headless"
}

// serviceExecutable is the program a service runs: orionbridge-headless
// (.exe on Windows) in the folder of self, this program, when it is there
// and executable; else self. The headless build is the same bridge without
// the tray: cgo-free, it loads no GUI libraries (a server need not have
// them) and idles in less than half the memory of the tray build, whose
// Fyne, OpenGL and X11 code a service never uses. Every package ships it
// beside orionbridge. A symbolic link is kept as it is, as executablePath
// keeps self's. When self is orionbridge-headless, that is itself.
func serviceExecutable(self, goos string) (exe string, headless bool) {
	sibling := filepath.Join(filepath.Dir(self), headlessExecutableName(goos))
	fi, err := os.Stat(sibling)
	if err != nil || !fi.Mode().IsRegular() {
		return self, false
	}
	// Windows has no execute bit: a regular .exe file is a program.
	if goos != "windows" && fi.Mode().Perm()&0o111 == 0 {
		return self, false
	}
	return sibling, true
}

// serviceExecutableNote is the install output's line saying which build
// the service runs.
func serviceExecutableNote(goos string, headless bool) string {
	name := headlessExecutableName(goos)
	if headless {
		return "the headless build (" + name + "): the bridge without the tray, which needs no GUI libraries and less memory"
	}
	return "this program itself: there is no executable " + name + " beside it (the headless build, which needs less memory)"
}
