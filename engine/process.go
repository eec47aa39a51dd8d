package engine

// One route's engine process: launch, wait for its port, watch it, restart
// it with backoff, stop it; and its stderr tail for the log.

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
