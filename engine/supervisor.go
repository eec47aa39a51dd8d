// Package engine runs the report engines that routes name with `launch`:
// it starts each with the bridge, waits for its port, restarts it with
// backoff when it exits, and stops it (process group first) with the
// bridge. It knows nothing of sessions: the app tells the bridge.
package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"orionbridge/config"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
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

// engine supervises the process of one route.
type process struct {
	route  config.Route
	log    *slog.Logger
	t      Timing
	cancel context.CancelFunc
	done   chan struct{} // closed when the process is gone and supervise returned
	exited func(routePath, reason string, restarting bool)

	mu       sync.Mutex
	state    State
	since    time.Time
	pid      int
	started  time.Time
	restarts int
	err      string
	stderr   string
	exitCode *int
}

func (e *process) status() Status {
	e.mu.Lock()
	defer e.mu.Unlock()
	return Status{Route: e.route.Path, Command: slices.Clone(e.route.Launch), State: e.state, PID: e.pid,
		Since: e.since, Restarts: e.restarts, Error: e.err, Started: e.started, Stderr: e.stderr, ExitCode: e.exitCode}
}

func (e *process) setState(s State) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.state != s {
		e.state, e.since = s, time.Now()
	}
}

// attempt is how one launch ended.
type attempt struct {
	ran    bool          // its port accepted connections
	uptime time.Duration // from then until it exited
	err    error         // why it ended; nil when it was stopped
	status string        // "exit status 1", "signal: killed"; "" if it never started
	code   int
	stderr string
}

// supervise launches the engine and restarts it until ctx is done.
func (e *process) supervise(ctx context.Context) {
	defer close(e.done)
	defer e.setState(Stopped)
	backoff := e.t.MinBackoff
	for launch := 0; ; launch++ {
		a := e.run(ctx, launch)
		if ctx.Err() != nil {
			return
		}
		if a.uptime >= e.t.StableAfter {
			backoff = e.t.MinBackoff
		}
		e.mu.Lock()
		e.pid, e.started, e.err, e.stderr = 0, time.Time{}, a.err.Error(), a.stderr
		if a.status != "" {
			e.exitCode = &a.code
		}
		e.mu.Unlock()
		if !a.ran {
			e.setState(Failed)
			e.log.Error("engine failed to start", "route", e.route.Path, "err", a.err, "retry_in", backoff.String())
		} else {
			e.setState(Restarting)
			e.log.Warn("engine exited; restarting it", "route", e.route.Path, "command", FormatCommand(e.route.Launch),
				"status", a.status, "exit_code", a.code, "uptime", a.uptime.Round(time.Millisecond).String(),
				"restart_in", backoff.String(), "stderr", a.stderr)
			// Its sessions are told now, before the restart: every one of
			// them was connected to the process that just died.
			if e.exited != nil {
				e.exited(e.route.Path, "engine exited ("+a.status+"); restarting", true)
			}
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(2*backoff, e.t.MaxBackoff)
		e.mu.Lock()
		e.restarts++
		e.mu.Unlock()
	}
}

// run launches the process once and returns when it has exited, been
// stopped (ctx done), or failed to open its port in time.
func (e *process) run(ctx context.Context, launch int) attempt {
	unlock := lockThreadForChild()
	defer unlock()
	r := e.route
	cmdline := FormatCommand(r.Launch)
	stderr := newLineTail(e.t.StderrLines)
	cmd := exec.Command(r.Launch[0], r.Launch[1:]...)
	cmd.Dir = r.LaunchDir
	cmd.Env = engineEnv(r.LaunchEnv)
	cmd.Stderr = stderr // stdin and stdout are the null device
	cmd.WaitDelay = e.t.StopGrace
	cmd.SysProcAttr = engineProcAttr()
	args := []any{"route", r.Path, "command", cmdline, "target", r.Target}
	if r.LaunchDir != "" {
		args = append(args, "dir", r.LaunchDir)
	}
	if len(r.LaunchEnv) > 0 {
		// Only the names: the values may be secrets.
		args = append(args, "env", strings.Join(slices.Sorted(maps.Keys(r.LaunchEnv)), " "))
	}
	if launch > 0 {
		args = append(args, "restart", launch)
	}
	e.log.Info("starting engine", args...)
	if err := cmd.Start(); err != nil {
		return attempt{err: fmt.Errorf("engine %s for %s could not be started: %w", cmdline, r.Path, err)}
	}
	pid, started := cmd.Process.Pid, time.Now()
	e.mu.Lock()
	e.pid, e.started = pid, started
	e.mu.Unlock()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	ended := func(err error) attempt {
		a := attempt{status: exitStatus(cmd, err), stderr: stderr.String(), code: -1}
		if cmd.ProcessState != nil {
			a.code = cmd.ProcessState.ExitCode()
		}
		return a
	}

	deadline := time.NewTimer(e.t.StartTimeout)
	defer deadline.Stop()
	poll := time.NewTicker(e.t.Poll)
	defer poll.Stop()
	for ready := false; !ready; {
		select {
		case <-ctx.Done():
			e.stop(cmd, exited)
			return attempt{}
		case err := <-exited:
			a := ended(err)
			a.err = fmt.Errorf("engine %s for %s exited (%s) after %s, before accepting connections on %s%s",
				cmdline, r.Path, a.status, time.Since(started).Round(time.Millisecond), r.Target, stderrSuffix(a.stderr))
			return a
		case <-deadline.C:
			e.log.Warn("engine did not open its port in time; stopping it", "route", r.Path, "pid", pid, "target", r.Target, "timeout", e.t.StartTimeout.String())
			a := ended(e.stop(cmd, exited))
			a.err = fmt.Errorf("engine %s for %s did not accept connections on %s within %s, so it was stopped%s",
				cmdline, r.Path, r.Target, e.t.StartTimeout, stderrSuffix(a.stderr))
			return a
		case <-poll.C:
			ready = accepts(ctx, r.Target, e.t.Poll)
		}
	}

	ranSince := time.Now()
	e.mu.Lock()
	e.err, e.stderr, e.exitCode = "", "", nil
	e.mu.Unlock()
	e.setState(Running)
	e.log.Info("engine running", "route", r.Path, "pid", pid, "target", r.Target, "startup", ranSince.Sub(started).Round(time.Millisecond).String())
	select {
	case <-ctx.Done():
		e.stop(cmd, exited)
		return attempt{ran: true}
	case err := <-exited:
		a := ended(err)
		a.ran, a.uptime = true, time.Since(ranSince)
		a.err = fmt.Errorf("engine %s for %s exited (%s) after running for %s%s",
			cmdline, r.Path, a.status, a.uptime.Round(time.Millisecond), stderrSuffix(a.stderr))
		return a
	}
}

// stop ends the process: SIGTERM to its group (Kill on Windows), then
// SIGKILL after the grace period. It returns cmd.Wait's error.
func (e *process) stop(cmd *exec.Cmd, exited <-chan error) error {
	pid := cmd.Process.Pid
	if err := terminateEngine(cmd.Process); err != nil && !errors.Is(err, os.ErrProcessDone) {
		e.log.Debug("signalling the engine", "route", e.route.Path, "pid", pid, "err", err)
	}
	t := time.NewTimer(e.t.StopGrace)
	defer t.Stop()
	var err error
	select {
	case err = <-exited:
	case <-t.C:
		e.log.Warn("engine still running after the grace period; killing it", "route", e.route.Path, "pid", pid, "grace", e.t.StopGrace.String())
		if err := killEngine(cmd.Process); err != nil && !errors.Is(err, os.ErrProcessDone) {
			e.log.Error("killing the engine", "route", e.route.Path, "pid", pid, "err", err)
		}
		err = <-exited
	}
	e.log.Info("engine stopped", "route", e.route.Path, "pid", pid, "status", exitStatus(cmd, err))
	return err
}

// accepts reports whether target accepts a TCP connection.
func accepts(ctx context.Context, target string, timeout time.Duration) bool {
	d := net.Dialer{Timeout: max(timeout, 500*time.Millisecond)}
	c, err := d.DialContext(ctx, "tcp", target)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// engineEnv is the bridge's environment plus launch_env; launch_env wins.
func engineEnv(extra map[string]string) []string {
	env := os.Environ()
	for _, k := range slices.Sorted(maps.Keys(extra)) {
		env = append(env, k+"="+extra[k])
	}
	return env
}

// exitStatus describes how the process ended, e.g. "exit status 1" or
// "signal: killed".
func exitStatus(cmd *exec.Cmd, waitErr error) string {
	if cmd.ProcessState != nil {
		return cmd.ProcessState.String()
	}
	if waitErr != nil {
		return waitErr.Error()
	}
	return "unknown"
}

// FormatCommand joins argv for logs, quoting what a reader could misread.
func FormatCommand(argv []string) string {
	parts := make([]string, len(argv))
	for i, a := range argv {
		if a == "" || strings.ContainsAny(a, " \t\n\"'\\") {
			a = strconv.Quote(a)
		}
		parts[i] = a
	}
	return strings.Join(parts, " ")
}

func stderrSuffix(tail string) string {
	if tail == "" {
		return "; it wrote nothing to stderr"
	}
	return "; its last stderr lines:\n" + tail
}

// lineTail keeps the last lines written to it, each cut to maxLineBytes.
type lineTail struct {
	mu      sync.Mutex
	max     int
	lines   []string
	partial []byte
	cut     bool // partial was cut
}

const maxLineBytes = 1024

func newLineTail(lines int) *lineTail { return &lineTail{max: max(lines, 1)} }

func (t *lineTail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		chunk := p
		if i >= 0 {
			chunk = p[:i]
		}
		if room := maxLineBytes - len(t.partial); len(chunk) > room {
			chunk, t.cut = chunk[:max(room, 0)], true
		}
		t.partial = append(t.partial, chunk...)
		if i < 0 {
			break
		}
		t.push()
		p = p[i+1:]
	}
	return n, nil
}

func (t *lineTail) push() {
	line := strings.TrimRight(string(t.partial), "\r")
	if t.cut {
		line += "…"
	}
	t.partial, t.cut = t.partial[:0], false
	if len(t.lines) == t.max {
		t.lines = append(t.lines[:0], t.lines[1:]...)
	}
	t.lines = append(t.lines, line)
}

// String is the kept lines, and an unfinished last line, joined by "\n".
func (t *lineTail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	lines := slices.Clone(t.lines)
	if len(t.partial) > 0 {
		lines = append(lines, string(t.partial))
		if len(lines) > t.max {
			lines = lines[1:]
		}
	}
	return strings.Join(lines, "\n")
}
