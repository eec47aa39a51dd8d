package cli

// What runs under the service manager (serviceProgram: the bridge, as
// `service run` or `run`), and how `service status` and `start` see it.

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"orionbridge/app"
	"orionbridge/bridge"
	"orionbridge/config"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kardianos/service"
)

// serviceStateValue is the service manager's view, reduced to what `status`
// prints.
type serviceStateValue int

const (
	stateNotInstalled serviceStateValue = iota
	stateStopped
	stateRunning
)

// serviceState asks the service manager. kardianos reports "not installed"
// as an error, and systemd's "failed" too; both are answers, not failures.
func serviceState(s service.Service) (serviceStateValue, error) {
	st, err := s.Status()
	switch {
	case errors.Is(err, service.ErrNotInstalled):
		return stateNotInstalled, nil
	case err != nil && strings.Contains(err.Error(), "failed state"):
		return stateStopped, nil
	case err != nil:
		return stateNotInstalled, err
	case st == service.StatusRunning:
		return stateRunning, nil
	default:
		return stateStopped, nil
	}
}

// serviceStatusLine is the one line `service status` prints.
func serviceStatusLine(state serviceStateValue, cfg config.Config) string {
	switch state {
	case stateNotInstalled:
		return "not installed"
	case stateStopped:
		return "stopped"
	}
	ports := append([]int{cfg.Port}, cfg.FallbackPorts...)
	if pid, port, ok := probeHealth(ports); ok {
		return fmt.Sprintf("running (pid %d, wss://localhost:%d)", pid, port)
	}
	return fmt.Sprintf("running (but nothing answers on https://localhost:%d/health yet: see the log in %s)", cfg.Port, filepath.Join(cfg.DataDir, "logs"))
}

// waitForBridge waits up to limit for the started bridge to answer.
func waitForBridge(s service.Service, cfg config.Config, limit time.Duration) string {
	deadline := time.Now().Add(limit)
	for {
		state, err := serviceState(s)
		if err == nil && state == stateRunning {
			if pid, port, ok := probeHealth(append([]int{cfg.Port}, cfg.FallbackPorts...)); ok {
				return fmt.Sprintf("running (pid %d, wss://localhost:%d)", pid, port)
			}
		}
		if time.Now().After(deadline) {
			if err != nil {
				return "started, but its state is unknown: " + err.Error()
			}
			return serviceStatusLine(state, cfg)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// probeHealth finds the Orion Bridge answering on the first of ports and
// reads its pid from /health. Only the identity is read, and nothing is
// sent, so the certificate is not verified (as bridge.probeOrionBridge
// does): the service may serve a CA this process does not trust.
func probeHealth(ports []int) (pid, port int, ok bool) {
	client := http.Client{
		Timeout:   time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}},
	}
	defer client.CloseIdleConnections()
	for _, p := range ports {
		resp, err := client.Get("https://localhost:" + strconv.Itoa(p) + "/health")
		if err != nil {
			continue
		}
		var h bridge.Health
		err = json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&h)
		resp.Body.Close()
		if err == nil && h.App == bridge.AppName {
			return h.PID, p, true
		}
	}
	return 0, 0, false
}

// serviceProgram is the bridge as kardianos/service runs it in `service
// run`: Start returns at once, Stop ends the bridge and waits.
type serviceProgram struct {
	// run runs the bridge until ctx ends and returns the exit status.
	run func(ctx context.Context) int
	// exit ends the process when the bridge stops by itself (os.Exit).
	exit func(int)

	mu       sync.Mutex
	cancel   context.CancelFunc
	done     chan int
	stopping atomic.Bool
	code     int
}

// Start implements service.Interface.
func (p *serviceProgram) Start(service.Service) error {
	if p.run == nil {
		return errors.New("this service program only controls the service")
	}
	ctx, cancel := context.WithCancel(context.Background())
	p.mu.Lock()
	p.cancel, p.done = cancel, make(chan int, 1)
	p.mu.Unlock()
	go func() {
		code := p.run(ctx)
		if !p.stopping.Load() {
			// The bridge ended without being asked (a bad config, its port
			// taken). Leaving without reporting "stopped" is what makes
			// Windows count a failure and apply the restart action.
			if code == exitOK {
				code = exitFailure
			}
			p.exit(code)
		}
		p.done <- code
	}()
	return nil
}

// serviceStopTimeout bounds Stop: the bridge gives sessions 5 s to close.
const serviceStopTimeout = 15 * time.Second

// Stop implements service.Interface.
func (p *serviceProgram) Stop(service.Service) error {
	p.mu.Lock()
	cancel, done := p.cancel, p.done
	p.mu.Unlock()
	if cancel == nil {
		return nil
	}
	p.stopping.Store(true)
	cancel()
	select {
	case p.code = <-done:
		return nil
	case <-time.After(serviceStopTimeout):
		return fmt.Errorf("the bridge did not stop within %s", serviceStopTimeout)
	}
}

// serviceRun is `orionbridge service run --config FILE`, the process the
// Windows service control manager starts: kardianos/service answers the
// manager, and the bridge runs as `orionbridge run` would. Elsewhere it works
// too (until SIGTERM or Ctrl-C), but systemd and launchd run `run` itself.
func serviceRun(meta Metadata, configPath string, stderr io.Writer) int {
	prg := newBridgeProgram(meta, configPath, stderr)
	svc, err := service.New(prg, serviceConfig(runtime.GOOS, serviceSpec{configPath: configPath}))
	if err != nil {
		fmt.Fprintln(stderr, "orionbridge service run:", err)
		return exitFailure
	}
	if err := svc.Run(); err != nil {
		fmt.Fprintln(stderr, "orionbridge service run:", err)
		return exitFailure
	}
	return prg.code
}

// newBridgeProgram is the bridge of `orionbridge run --config configPath`
// as a serviceProgram: it also ends when Stop is called.
func newBridgeProgram(meta Metadata, configPath string, stderr io.Writer) *serviceProgram {
	text, info := "text", "info"
	setup := runSetup{configPath: &configPath, logFormat: &text, logLevel: &info}
	return &serviceProgram{
		run: func(stopped context.Context) int {
			return setup.run(meta, stderr, func(signalled context.Context, in *app.Instance) error {
				ctx, cancel := context.WithCancel(signalled)
				defer cancel()
				unregister := context.AfterFunc(stopped, cancel)
				defer unregister()
				return in.Run(ctx)
			})
		},
		exit: os.Exit,
	}
}
