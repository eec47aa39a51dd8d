package cli

// `orionbridge demo`, what `make run` runs: the demo engine and the tray app
// in one process, the bridge's /ws route pointed at the engine's actual
// port.
//
// The engine listens on a port the OS picks (127.0.0.1:0) and this process
// holds it from the first moment, so the route can only reach the engine
// the user just started. The fixed 127.0.0.1:21400 it used before could be
// held by any program; the demo engine then failed to start and the bridge
// relayed the diagnostics console to that program.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"time"

	"orionbridge/app"
	"orionbridge/config"
)

// demoRoutePath is the route the demo engine serves: the default route,
// which the diagnostics page and the example pages use.
const demoRoutePath = "/ws"

func demoCommand(meta Metadata, args []string, stderr io.Writer, ui app.UI) int {
	fs := newFlagSet("demo", stderr)
	configPath := fs.String("config", "", "your configuration `file`, copied with "+demoRoutePath+" pointed at the demo engine (default: the OS user config dir, OrionBridge/config.toml)")
	push := fs.Duration("push", 10*time.Second, "the demo engine sends every connection a timestamp line at this `interval`; 0 for none")
	dashboard := fs.Bool("dashboard", false, "open the dashboard window at start")
	if status, ok := parseOnlyFlags(fs, args, stderr, ""); !ok {
		return status
	}
	if *push < 0 {
		fmt.Fprintf(stderr, "orionbridge demo: --push %s: expected a positive interval such as 10s, or 0\n", *push)
		return exitUsage
	}
	d, err := prepareDemo(*configPath)
	if err != nil {
		fmt.Fprintln(stderr, "orionbridge demo:", err)
		var ce *config.Error
		if errors.As(err, &ce) {
			return exitUsage
		}
		return exitFailure
	}
	defer d.close()
	ctx, stopEngine := context.WithCancel(context.Background())
	served := make(chan struct{})
	go func() {
		defer close(served)
		DemoEngine{Push: *push, Log: slog.New(slog.NewTextHandler(stderr, nil))}.Serve(ctx, d.engine)
	}()
	defer func() { stopEngine(); <-served }()
	fmt.Fprintf(stderr, "orionbridge demo: demo engine listening on %s, a port the system picked and this process holds; route %s -> %s\n",
		d.engine.Addr(), demoRoutePath, d.engine.Addr())
	fmt.Fprintf(stderr, "orionbridge demo: the bridge runs with a copy of your configuration (%s), removed at exit: changes made in Settings now are not kept\n", d.configPath)
	trayArgs := []string{"--config", d.configPath}
	if *dashboard {
		trayArgs = append(trayArgs, "--dashboard")
	}
	return trayCommand(meta, trayArgs, stderr, ui)
}

// demo is a prepared demo: the engine's listener and the configuration
// that routes /ws to it.
type demo struct {
	engine     net.Listener
	configPath string // in a folder of its own, removed by close
}

func (d *demo) close() {
	d.engine.Close()
	os.RemoveAll(filepath.Dir(d.configPath))
}

// prepareDemo listens for the demo engine on a free loopback port and
// writes a copy of the configuration at userConfig ("" for the default)
// whose /ws route is the engine's address, raw framing. The other keys and
// routes stay as the user has them: the same data_dir (so the same trusted
// certificate), port and origins. The user's file is never written.
func prepareDemo(userConfig string) (*demo, error) {
	cfg, sources, err := config.LoadSources(userConfig)
	if err != nil {
		return nil, err
	}
	if managed := config.ManagedPath(); managed != "" && sources["routes"] == managed {
		// The managed file's routes win over any file of ours.
		return nil, fmt.Errorf("the machine-wide managed configuration %s sets the routes, so the demo cannot point %s at its engine: "+
			"try the demo where no managed configuration sets routes, or run `orionbridge demo-engine` on the address your %s route names", managed, demoRoutePath, demoRoutePath)
	}
	// Port 0: the system picks a free port, and it is ours before anything
	// refers to it.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("demo engine: listen on 127.0.0.1:0: %w", err)
	}
	route := config.Route{Path: demoRoutePath, Target: ln.Addr().String(), Framing: "raw"}
	i := slices.IndexFunc(cfg.Routes, func(r config.Route) bool { return r.Path == demoRoutePath })
	if i >= 0 {
		cfg.Routes[i] = route // its launch, if any, goes too: the demo engine stands in
	} else {
		cfg.Routes = append([]config.Route{route}, cfg.Routes...)
	}
	// A private folder (0700, a fresh name): the copy holds the token, if
	// the user set one.
	dir, err := os.MkdirTemp("", "orionbridge-demo-")
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("demo: folder for the configuration copy: %w", err)
	}
	d := &demo{engine: ln, configPath: filepath.Join(dir, "config.toml")}
	if err := config.Save(d.configPath, cfg); err != nil {
		d.close()
		return nil, fmt.Errorf("demo: %w", err)
	}
	return d, nil
}
