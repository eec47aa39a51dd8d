// Package engine runs the report engines that routes name with `launch`:
// it starts each with the bridge, waits for its port, restarts it with
// backoff when it exits, and stops it (process group first) with the
// bridge. It knows nothing of sessions: the app tells the bridge.
package engine

import (
	"context"
	"log/slog"
	"maps"
	"orionbridge/config"
	"slices"
	"sync"
	"time"
)

// A route with `launch` names the engine the bridge runs for it. Supervisor
// starts each one when the bridge starts, waits until its port (the route's
// target) accepts connections, restarts it with exponential backoff when it
// exits, and stops it when the bridge stops: SIGTERM to its process group,
// then SIGKILL after a grace period (on Windows, Kill). On Unix an engine
// has its own process group, so a Ctrl-C in the terminal reaches only the
// bridge, which stops the engines after its sessions.

// State is where a managed engine is in its life.
type State string

const (
	// Starting: launched, waiting for its port to accept connections.
	Starting State = "starting"
	// Running: its port accepted a connection.
	Running State = "running"
	// Restarting: it exited after running; it is started again after
	// the backoff, and stays restarting until its port accepts again.
	Restarting State = "restarting"
	// Failed: it could not be started, exited before accepting
	// connections, or did not open its port within the startup timeout (and
	// was stopped). It is retried with backoff and stays failed until a
	// retry runs; Status.Error says why.
	Failed State = "failed"
	// Stopped: the bridge is stopped, so the engine is too.
	Stopped State = "stopped"
)

// Status describes the engine run for one route.
type Status struct {
	Route    string    `json:"route"`
	Command  []string  `json:"command"`
	State    State     `json:"state"`
	PID      int       `json:"pid,omitempty"`       // of the current process, if any
	Since    time.Time `json:"since,omitzero"`      // when State was entered
	Restarts int       `json:"restarts"`            // launches after the first, since the bridge started
	Error    string    `json:"error,omitempty"`     // the last failure; cleared once it runs again
	Started  time.Time `json:"started,omitzero"`    // when the current process was launched
	Stderr   string    `json:"stderr,omitempty"`    // the last lines of its stderr, after a failure
	ExitCode *int      `json:"exit_code,omitempty"` // of the last exit, -1 for a signal
}

// Timing are the supervisor's waits. Tests shorten them (SetTiming).
type Timing struct {
	StartTimeout time.Duration // launch until the port accepts
	MinBackoff   time.Duration // first wait before a restart, doubling
	MaxBackoff   time.Duration
	StableAfter  time.Duration // up this long: the next restart waits minBackoff again
	StopGrace    time.Duration // SIGTERM until SIGKILL
	Poll         time.Duration // how often the port is tried while starting
	StderrLines  int           // kept and logged when the engine exits
}

func defaultTiming() Timing {
	return Timing{
		StartTimeout: 30 * time.Second,
		MinBackoff:   time.Second,
		MaxBackoff:   time.Minute,
		StableAfter:  time.Minute,
		StopGrace:    5 * time.Second,
		Poll:         100 * time.Millisecond,
		StderrLines:  20,
	}
}

// Supervisor runs the engines that routes name with `launch`. The zero value
// is not usable; New makes one. Its methods are safe for concurrent
// use.
type Supervisor struct {
	log    *slog.Logger
	timing Timing

	// exited, when set, is told when an engine that was running exits on
	// its own, with the close reason for its sessions (the bridge's
	// EngineExited): a crash is not "engine closed the connection".
	exited func(routePath, reason string, restarting bool)

	opMu    sync.Mutex // serialises Start, Stop and Update, which wait
	mu      sync.Mutex // guards the fields below
	routes  []config.Route
	running bool
	engines map[string]*process // by route path, while running
}

// New makes a stopped Supervisor for routes; Start launches their engines.
// exited, when not nil, is told when an engine that was running exits on
// its own, with the reason a page should see ("engine exited (signal:
// killed); restarting"); the app passes the bridge's EngineExited.
func New(log *slog.Logger, routes []config.Route, exited func(routePath, reason string, restarting bool)) *Supervisor {
	return &Supervisor{log: log, timing: defaultTiming(), routes: slices.Clone(routes), engines: map[string]*process{}, exited: exited}
}

// SetTiming replaces the supervisor's waits, for engines launched after
// it; tests shorten them.
func (es *Supervisor) SetTiming(t Timing) {
	es.mu.Lock()
	es.timing = t
	es.mu.Unlock()
}

// DefaultTiming are the waits New starts with.
func DefaultTiming() Timing { return defaultTiming() }

// Start launches every engine; it returns at once, and each engine is
// watched until Stop. Starting twice does nothing.
func (es *Supervisor) Start() {
	es.opMu.Lock()
	defer es.opMu.Unlock()
	es.mu.Lock()
	defer es.mu.Unlock()
	if es.running {
		return
	}
	es.running = true
	for _, r := range es.routes {
		if len(r.Launch) > 0 {
			es.launchLocked(r)
		}
	}
}

func (es *Supervisor) launchLocked(r config.Route) {
	ctx, cancel := context.WithCancel(context.Background())
	e := &process{route: r, log: es.log, t: es.timing, cancel: cancel, done: make(chan struct{}),
		state: Starting, since: time.Now(), exited: es.exited}
	es.engines[r.Path] = e
	go e.supervise(ctx)
}

// Stop stops every engine, in parallel, and waits until they are gone.
func (es *Supervisor) Stop() {
	es.opMu.Lock()
	defer es.opMu.Unlock()
	es.mu.Lock()
	es.running = false
	engines := slices.Collect(maps.Values(es.engines))
	es.mu.Unlock()
	stopAll(engines)
	es.mu.Lock()
	clear(es.engines)
	es.mu.Unlock()
}

func stopAll(engines []*process) {
	for _, e := range engines {
		e.cancel()
	}
	for _, e := range engines {
		<-e.done
	}
}

// Update takes the routes of a new configuration. While running, an engine
// whose route is gone or whose target or launch keys changed is stopped,
// and engines that are new or changed are started.
func (es *Supervisor) Update(routes []config.Route) {
	es.opMu.Lock()
	defer es.opMu.Unlock()
	es.mu.Lock()
	es.routes = slices.Clone(routes)
	if !es.running {
		es.mu.Unlock()
		return
	}
	var stale []*process
	var fresh []config.Route
	wanted := map[string]bool{}
	for _, r := range routes {
		if len(r.Launch) == 0 {
			continue
		}
		wanted[r.Path] = true
		if e := es.engines[r.Path]; e == nil || !sameEngine(e.route, r) {
			fresh = append(fresh, r)
		}
	}
	for path, e := range es.engines {
		if !wanted[path] || slices.ContainsFunc(fresh, func(r config.Route) bool { return r.Path == path }) {
			stale = append(stale, e)
		}
	}
	es.mu.Unlock()
	// Old engines first: a changed one may need its port back.
	stopAll(stale)
	es.mu.Lock()
	defer es.mu.Unlock()
	for _, e := range stale {
		if es.engines[e.route.Path] == e {
			delete(es.engines, e.route.Path)
		}
	}
	if !es.running {
		return
	}
	for _, r := range fresh {
		es.launchLocked(r)
	}
}

func sameEngine(a, b config.Route) bool {
	return a.Target == b.Target && slices.Equal(a.Launch, b.Launch) && a.LaunchDir == b.LaunchDir && maps.Equal(a.LaunchEnv, b.LaunchEnv)
}

// State is the state of the engine for the route at path, as /health and
// the snapshot show it: "" when the route launches none.
func (es *Supervisor) State(path string) string {
	if es == nil {
		return ""
	}
	es.mu.Lock()
	defer es.mu.Unlock()
	if e := es.engines[path]; e != nil {
		return string(e.status().State)
	}
	for _, r := range es.routes {
		if r.Path == path && len(r.Launch) > 0 {
			return string(Stopped)
		}
	}
	return ""
}

// Status describes every engine, in route order.
func (es *Supervisor) Status() []Status {
	es.mu.Lock()
	defer es.mu.Unlock()
	var list []Status
	for _, r := range es.routes {
		if len(r.Launch) == 0 {
			continue
		}
		if e := es.engines[r.Path]; e != nil {
			list = append(list, e.status())
		} else {
			list = append(list, Status{Route: r.Path, Command: slices.Clone(r.Launch), State: Stopped})
		}
	}
	return list
}
