// Package app is Orion Bridge's application layer: configuration, the
// command line, and the wiring that builds a bridge from a config file with
// its certificate source and logger.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"orionbridge/app"
	"orionbridge/autostart"
	"orionbridge/bridge"
	"orionbridge/config"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"

	"github.com/pelletier/go-toml/v2"
)

// Exit statuses. Usage and configuration errors are 2, so scripts can tell
// "fix your input" from "something failed".
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

// Metadata is the app identity from FyneApp.toml, the one place the
// version is written.
type Metadata struct {
	Details struct {
		Name    string
		ID      string
		Version string
		Build   int
	}
}

// ParseMetadata reads FyneApp.toml.
func ParseMetadata(data []byte) (Metadata, error) {
	var m Metadata
	if err := toml.Unmarshal(data, &m); err != nil {
		return m, fmt.Errorf("parse FyneApp.toml: %w", err)
	}
	if m.Details.Version == "" {
		return m, errors.New("parse FyneApp.toml: no Details.Version")
	}
	return m, nil
}

const usage = `Orion Bridge connects the Orion web editor in your browser to the report
engine on this machine, over wss://localhost.

Usage:
  orionbridge [--config FILE] [--dashboard] the tray app (headless without a display, and
                                            always in orionbridge-headless, the build without the tray)
  orionbridge run [--config FILE] [--log-format text|json] [--log-level LEVEL]
                                            run the bridge in the foreground, logging to stderr
  orionbridge demo-engine [--listen ADDR] [--push INTERVAL]
                                            a stand-in report engine that echoes every byte
  orionbridge demo [--config FILE] [--push INTERVAL] [--dashboard]
                                            the demo engine on a free port and the tray app routed to it (make run)
  orionbridge demo-site [--listen ADDR]     an example shop page embedding the editor, on loopback
  orionbridge certs path|install|uninstall|status|renew [--config FILE] [--scope user|system]
                                            the bridge's local CA and certificate
  orionbridge policy install|uninstall|status [--config FILE] [--iframe]
                                            browser policies approving Local Network Access for allowed_origins (root)
  orionbridge status [--config FILE] [--json]
                                            the running bridge: endpoint, engine, certificate, sessions
  orionbridge logs [--follow] [--lines N]   print the log file's path and its last lines
  orionbridge support-bundle [--output FILE]
                                            a zip for IT: logs, config (token redacted), certificate status
  orionbridge service install|uninstall|start|stop|restart|status [--config FILE] [--user|--system]
  orionbridge autostart on|off|status       start the tray app when you log in
  orionbridge config check FILE             validate a configuration file
  orionbridge config show [--config FILE]   the configuration in force, with the file each key comes from
  orionbridge version                       print the version

The default configuration file is %s.
`

// Main runs the command line and returns the process exit status. ui is
// the tray app, run when no command is given and a display is available;
// nil in the headless build (orionbridge-headless), which has no tray.
func Main(metadata []byte, args []string, stdout, stderr io.Writer, ui app.UI) int {
	meta, err := ParseMetadata(metadata)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitFailure
	}
	cmd, rest := "tray", args
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, rest = args[0], args[1:]
	}
	switch cmd {
	case "tray":
		return trayCommand(meta, rest, stderr, ui)
	case "run":
		return runCommand(meta, rest, stderr)
	case "demo-engine":
		return demoEngineCommand(rest, stdout, stderr)
	case "demo":
		return demoCommand(meta, rest, stderr, ui)
	case "demo-site":
		return demoSiteCommand(rest, stdout, stderr)
	case "certs":
		return certsCommand(rest, stdout, stderr)
	case "policy":
		return policyCommand(rest, stdout, stderr)
	case "config":
		return configCommand(rest, stdout, stderr)
	case "status":
		return statusCommand(rest, stdout, stderr)
	case "logs":
		return logsCommand(rest, stdout, stderr)
	case "support-bundle":
		return supportBundleCommand(rest, stdout, stderr)
	case "service":
		return serviceCommand(meta, rest, stdout, stderr)
	case "autostart":
		return autostartCommand(rest, stdout, stderr)
	case "version":
		fmt.Fprintf(stdout, "orionbridge %s\n", meta.Details.Version)
		return exitOK
	case "help":
		printUsage(stdout)
		return exitOK
	}
	fmt.Fprintf(stderr, "orionbridge: unknown command %q\n\n", cmd)
	printUsage(stderr)
	return exitUsage
}

func printUsage(w io.Writer) {
	path, err := config.DefaultPath()
	if err != nil {
		path = "(none: " + err.Error() + ")"
	}
	fmt.Fprintf(w, usage, path)
}

// newFlagSet returns a flag set whose errors and -h output go to stderr.
func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("orionbridge "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// parseOnlyFlags is the prologue of every command that takes flags and no
// other argument: parseFlags, then a stray argument is a usage error naming
// it, followed by usage when there is one. ok false means return status.
func parseOnlyFlags(fs *flag.FlagSet, args []string, stderr io.Writer, usage string) (status int, ok bool) {
	pos, status, ok := parseFlags(fs, args)
	if !ok {
		return status, false
	}
	if len(pos) > 0 {
		fmt.Fprintf(stderr, "%s: unexpected argument %q\n", fs.Name(), pos[0])
		if usage != "" {
			fmt.Fprintln(stderr, usage)
		}
		return exitUsage, false
	}
	return exitOK, true
}

// parseFlags parses args, allowing flags after positional arguments
// ("config check FILE --x"), and maps -h to exit 0.
func parseFlags(fs *flag.FlagSet, args []string) (positional []string, status int, ok bool) {
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, exitOK, false
			}
			return nil, exitUsage, false
		}
		args = fs.Args()
		if len(args) == 0 {
			return positional, 0, true
		}
		positional = append(positional, args[0])
		args = args[1:]
	}
}

func runCommand(meta Metadata, args []string, stderr io.Writer) int {
	fs := newFlagSet("run", stderr)
	setup := addRunFlags(fs)
	if status, ok := parseOnlyFlags(fs, args, stderr, ""); !ok {
		return status
	}
	return setup.run(meta, stderr, func(ctx context.Context, in *app.Instance) error { return in.Run(ctx) })
}

// trayCommand runs the tray app, or the headless bridge without a display
// or without a tray (ui is nil in the headless build). When the UI cannot
// start (its window system fails), the bridge goes on headless: see
// serveWithoutUI.
func trayCommand(meta Metadata, args []string, stderr io.Writer, ui app.UI) int {
	fs := newFlagSet("", stderr)
	setup := addRunFlags(fs)
	dashboard := fs.Bool("dashboard", false, "open the dashboard window at start")
	atLogin := fs.Bool("at-login", false, "started at sign-in (the Run value): quit quietly when start at login is off for this user, or when Orion Bridge already runs")
	pos, status, ok := parseFlags(fs, args)
	if !ok {
		return status
	}
	if len(pos) > 0 {
		fmt.Fprintf(stderr, "orionbridge: unknown command %q\n\n", pos[0])
		printUsage(stderr)
		return exitUsage
	}
	if *atLogin {
		if quit, why := loginStartRefused(autostart.State); quit {
			fmt.Fprintln(stderr, "orionbridge:", why)
			return exitOK
		}
	}
	if notice := headlessNotice(ui != nil, ui != nil && haveDisplay()); notice != "" {
		fmt.Fprintln(stderr, notice)
		return setup.run(meta, stderr, func(ctx context.Context, in *app.Instance) error { return in.Run(ctx) })
	}
	return setup.run(meta, stderr, func(ctx context.Context, in *app.Instance) error {
		in.SetMode("tray")
		startErr := in.Start()
		if startErr != nil {
			var running *bridge.AlreadyRunningError
			if errors.As(startErr, &running) {
				if *atLogin {
					// Two Run values (the installer's HKLM one and a
					// user's own) start two trays at sign-in: the second
					// goes quietly, without popping up the first's
					// dashboard.
					fmt.Fprintf(stderr, "orionbridge: Orion Bridge is already running (pid %d): this start at sign-in quits\n", running.PID)
					return nil
				}
				return joinRunning(ctx, in.RunningConfig(), running, ui, app.UIOptions{Version: meta.Details.Version, ShowDashboard: true, Quit: ctx}, stderr)
			}
			// The tray still opens: it shows the error and a Start button.
			in.Logger().Error("the bridge could not start", "err", startErr)
		}
		maintainCtx, stopMaintaining := context.WithCancel(ctx)
		maintained := make(chan struct{})
		go func() { defer close(maintained); in.Maintain(maintainCtx) }()
		// The UI returns when the operator quits; a signal quits it too.
		err := ui(in, app.UIOptions{Version: meta.Details.Version, ShowDashboard: *dashboard, Quit: ctx, OnShowDashboard: in.OnShowDashboard})
		if guiUnavailable(err) {
			err = serveWithoutUI(ctx, in, err, startErr, showNotice)
		}
		stopErr := in.Stop()
		stopMaintaining()
		<-maintained
		return errors.Join(err, stopErr)
	})
}

// guiUnavailable reports whether err is the UI's "the window system
// failed" (tray.GUIError, known by its method: cli must not import tray,
// which the headless build leaves out).
func guiUnavailable(err error) bool {
	var gui interface{ GUIUnavailable() bool }
	return errors.As(err, &gui) && gui.GUIUnavailable()
}

// serveWithoutUI is the tray app's fallback when its UI cannot start (no
// usable OpenGL driver: remote desktops, VMs, broken drivers; no desktop):
// the bridge, already started, serves on headless until ctx ends (quit:
// SIGINT, SIGTERM, Ctrl-C, or ending the process). It says so in the log
// and, because a GUI program on Windows has no console, through notice (a
// message box there; nothing elsewhere, where stderr shows the log). The
// instance reports mode "headless" from here: a second start of the app
// then attaches to it as to a service rather than asking it for a
// dashboard it cannot show. If the bridge did not start either, nothing
// would serve: it returns startErr.
func serveWithoutUI(ctx context.Context, in *app.Instance, uiErr, startErr error, notice func(title, text string) error) error {
	in.SetMode("headless")
	attrs := []any{"err", uiErr}
	var stack interface{ GUIStack() string }
	if errors.As(uiErr, &stack) {
		attrs = append(attrs, "stack", stack.GUIStack())
	}
	text := fallbackText(uiErr, startErr, in.Bridge.Snapshot().Endpoint, in.Info().LogDir)
	if startErr != nil {
		in.Logger().Error("the tray could not start, and the bridge is not running: quitting", attrs...)
		if err := notice("Orion Bridge", text); err != nil {
			in.Logger().Warn("could not show the message", "err", err)
		}
		return startErr
	}
	in.Logger().Error("the tray could not start: running headless, as `orionbridge run` would, until stopped", attrs...)
	// The box waits for OK; the bridge must not.
	go func() {
		if err := notice("Orion Bridge", text); err != nil {
			in.Logger().Warn("could not show the message", "err", err)
		}
	}()
	<-ctx.Done()
	return nil
}

// fallbackText is serveWithoutUI's message to the person at the desktop.
func fallbackText(uiErr, startErr error, endpoint, logDir string) string {
	if startErr != nil {
		return fmt.Sprintf("Orion Bridge could not open its window or tray icon (%v), and the bridge could not start (%v).\n\nLog folder: %s", uiErr, startErr, logDir)
	}
	return fmt.Sprintf("Orion Bridge could not open its window or tray icon (%v).\n\n"+
		"It runs without them: web pages still connect to %s. `orionbridge status` shows it; "+
		"to stop it, end orionbridge.exe in Task Manager.\n\nLog folder: %s", uiErr, endpoint, logDir)
}

// loginStartRefused decides a start at sign-in (--at-login): it quits
// when start at login is off for this user. That matters where the entry
// is not the user's own: the installer's HKLM Run value starts the tray
// for every user, and `autostart off` records a per-user opt-out
// (autostart_windows.go). state is autostart.State; when it fails, the
// tray starts (better a tray too many than a bridge missing).
func loginStartRefused(state func() (bool, string, error)) (quit bool, why string) {
	on, _, err := state()
	if err != nil || on {
		return false, ""
	}
	return true, "start at login is off for this user (`orionbridge autostart on` turns it on): this start at sign-in quits"
}

// headlessNotice is the line the default command prints when it runs the
// bridge headless instead of the tray, or "" when the tray can run: in the
// headless build (no UI) and, in the tray build, without a display.
func headlessNotice(hasUI, display bool) string {
	switch {
	case !hasUI:
		return "orionbridge: this build, orionbridge-headless, has no tray: running headless as `orionbridge run` would"
	case !display:
		return "orionbridge: no display found (DISPLAY and WAYLAND_DISPLAY are unset), running headless as `orionbridge run` would"
	}
	return ""
}

// joinRunning handles a second start of the tray app: a tray already
// running is asked to show its dashboard; a headless bridge (a service) is
// attached to, and this process shows the tray for it.
func joinRunning(ctx context.Context, cfg config.Config, running *bridge.AlreadyRunningError, ui app.UI, opts app.UIOptions, stderr io.Writer) error {
	port, err := strconv.Atoi(running.Endpoint[strings.LastIndexByte(running.Endpoint, ':')+1:])
	if err != nil {
		return err
	}
	remote, err := app.Attach(cfg, port)
	if err != nil {
		return fmt.Errorf("%w; and it cannot be reached: %w", running, err)
	}
	defer remote.Close()
	if remote.Info().Mode == "tray" {
		if err := remote.ShowDashboard(); err != nil {
			return fmt.Errorf("%w; showing its dashboard failed: %w", running, err)
		}
		fmt.Fprintf(stderr, "orionbridge: Orion Bridge is already running (pid %d); its dashboard is shown\n", running.PID)
		return nil
	}
	fmt.Fprintf(stderr, "orionbridge: attached to the Orion Bridge service at %s (pid %d)\n", running.Endpoint, running.PID)
	return ui(remote, opts)
}

// runSetup holds the flags shared by run and the tray app.
type runSetup struct {
	configPath, logFormat, logLevel *string
}

func addRunFlags(fs *flag.FlagSet) runSetup {
	return runSetup{
		configPath: fs.String("config", "", "configuration `file` (default: the OS user config dir, OrionBridge/config.toml)"),
		logFormat:  fs.String("log-format", "text", "log format on stderr: text or json"),
		logLevel:   fs.String("log-level", "info", "log level: debug, info, warn or error"),
	}
}

// run loads the config, opens the logs, builds the Instance and calls body
// with a context that ends on SIGINT or SIGTERM.
func (r runSetup) run(meta Metadata, stderr io.Writer, body func(context.Context, *app.Instance) error) int {
	// Each TLS handshake leaves ~75 KB of garbage while the relay allocates
	// almost nothing per message; collecting at 50% growth keeps thousands
	// of idle sessions near 30 KiB each at no measurable CPU cost
	// (docs/benchmarks.md). GOGC, when set, still wins.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(50)
	}
	handler, err := newLogHandler(stderr, *r.logFormat, *r.logLevel)
	if err != nil {
		fmt.Fprintln(stderr, "orionbridge:", err)
		return exitUsage
	}
	cfg, sources, err := config.LoadSources(*r.configPath)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitUsage
	}
	fileLog, logFile, err := app.OpenLogFile(filepath.Join(cfg.DataDir, "logs"), slog.LevelInfo)
	if err != nil {
		fmt.Fprintln(stderr, "orionbridge:", err)
		return exitFailure
	}
	defer logFile.Close()
	in, err := app.NewInstance(meta.Details.Version, cfg, slog.NewMultiHandler(handler, fileLog))
	if err != nil {
		fmt.Fprintln(stderr, "orionbridge:", err)
		return exitFailure
	}
	in.SetConfigPath(*r.configPath)
	in.SetSources(sources)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := body(ctx, in); err != nil {
		fmt.Fprintln(stderr, "orionbridge:", err)
		return exitFailure
	}
	return exitOK
}

func configCommand(args []string, stdout, stderr io.Writer) int {
	if len(args) >= 1 && args[0] == "write-managed" {
		// The MSI's public properties (PORT, ALLOWED_ORIGINS, ENGINE_ADDRESS).
		return managedWriteCommand(args[1:], stdout, stderr)
	}
	if len(args) >= 1 && args[0] == "show" {
		fs := newFlagSet("config show", stderr)
		configPath := fs.String("config", "", "configuration `file`")
		if _, status, ok := parseFlags(fs, args[1:]); !ok {
			return status
		}
		cfg, sources, err := config.LoadSources(*configPath)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return exitUsage
		}
		config.WriteShow(stdout, cfg, sources)
		return exitOK
	}
	if len(args) != 2 || args[0] != "check" {
		fmt.Fprintln(stderr, "usage: orionbridge config check FILE | orionbridge config show [--config FILE]")
		return exitUsage
	}
	if _, err := config.Load(args[1]); err != nil {
		fmt.Fprintln(stderr, err)
		return exitUsage
	}
	fmt.Fprintf(stdout, "%s: ok\n", args[1])
	return exitOK
}

// newLogHandler builds the stderr handler for `run`.
func newLogHandler(w io.Writer, format, level string) (slog.Handler, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: expected debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lvl}
	switch format {
	case "text":
		return slog.NewTextHandler(w, opts), nil
	case "json":
		return slog.NewJSONHandler(w, opts), nil
	}
	return nil, fmt.Errorf("--log-format %q: expected text or json", format)
}
