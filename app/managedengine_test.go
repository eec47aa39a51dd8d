package app

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"orionbridge/config"
	"orionbridge/engine"
	"orionbridge/internal/testutil"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestManagedEngine runs the project's own binary as the engine, through a
// route's launch: `orionbridge demo-engine --listen ADDR`.
func TestManagedEngine(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs real processes")
	}
	bin := buildOrionBridge(t)

	t.Run("starts, relays, stops", func(t *testing.T) {
		target := freeLoopbackAddr(t)
		in, logs := startEngineInstance(t, []string{bin, "demo-engine", "--listen", target}, nil)
		testutil.WaitFor(t, "the engine to run", func() bool { return in.engines.State("/ws") == "running" })

		st := engineStatus(t, in)
		if st.PID == 0 || st.Restarts != 0 || st.Error != "" || !slices.Equal(st.Command, []string{bin, "demo-engine", "--listen", target}) {
			t.Fatalf("status %+v", st)
		}
		checkOwnProcessGroup(t, st.PID)
		h := in.Bridge.Health()
		if h.Routes[0].Engine != "running" || !h.Routes[0].Reachable {
			t.Errorf("health routes %+v", h.Routes)
		}
		if doc, _ := json.Marshal(h); !strings.Contains(string(doc), `"engine":"running"`) {
			t.Errorf("/health JSON %s", doc)
		}
		if snap := in.Bridge.Snapshot(); snap.Engines["/ws"] != "running" {
			t.Errorf("snapshot engines %v", snap.Engines)
		}
		if got := echoThroughBridge(t, in, "hello engine"); got != "hello engine" {
			t.Errorf("relayed %q", got)
		}
		if r := logs.find("starting engine"); len(r) != 1 || r[0]["command"] != engine.FormatCommand(st.Command) || r[0]["target"] != target {
			t.Errorf("start records %v", r)
		}
		if r := logs.find("engine running"); len(r) != 1 || r[0]["pid"] != strconv.Itoa(st.PID) {
			t.Errorf("running records %v", r)
		}

		if err := in.Stop(); err != nil {
			t.Fatal(err)
		}
		// Stop returns when the engine is gone, and SIGTERM let it exit cleanly.
		if !processGone(st.PID) {
			t.Errorf("engine pid %d still exists after Stop", st.PID)
		}
		if accepts(target) {
			t.Errorf("%s still accepts connections after Stop", target)
		}
		if r := logs.find("engine stopped"); len(r) != 1 || r[0]["status"] != "exit status 0" {
			t.Errorf("stop records %v", r)
		}
		if s := in.engines.State("/ws"); s != "stopped" || in.Bridge.Health().Routes[0].Engine != "stopped" {
			t.Errorf("state after Stop %q", s)
		}
	})

	t.Run("restarts after a kill", func(t *testing.T) {
		target := freeLoopbackAddr(t)
		in, logs := startEngineInstance(t, []string{bin, "demo-engine", "--listen", target}, func(tm *engine.Timing) {
			tm.MinBackoff = 50 * time.Millisecond
		})
		testutil.WaitFor(t, "the engine to run", func() bool { return in.engines.State("/ws") == "running" })
		first := engineStatus(t, in).PID
		p, err := os.FindProcess(first)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Kill(); err != nil { // SIGKILL on Unix
			t.Fatal(err)
		}
		testutil.WaitFor(t, "a new engine process to run", func() bool {
			st := engineStatus(t, in)
			return st.State == engine.Running && st.PID != 0 && st.PID != first
		})
		st := engineStatus(t, in)
		if st.Restarts != 1 || st.Error != "" {
			t.Errorf("status after the restart %+v", st)
		}
		// The log tells the story in order: running, exited, running.
		states := logs.messages("engine running", "engine exited; restarting it", "engine failed to start")
		if want := []string{"engine running", "engine exited; restarting it", "engine running"}; !slices.Equal(states, want) {
			t.Fatalf("records %q, want %q", states, want)
		}
		exit := logs.find("engine exited; restarting it")[0]
		wantStatus := "signal: killed"
		if runtime.GOOS == "windows" {
			wantStatus = "exit status 1"
		}
		if exit["status"] != wantStatus || exit["exit_code"] != "-1" && runtime.GOOS != "windows" ||
			!strings.Contains(exit["stderr"], "demo engine listening") || exit["restart_in"] != "50ms" || exit["route"] != "/ws" {
			t.Errorf("exit record %v", exit)
		}
		if got := echoThroughBridge(t, in, "after the restart"); got != "after the restart" {
			t.Errorf("relayed %q", got)
		}
	})

	t.Run("a killed engine's sessions are told why", func(t *testing.T) {
		target := freeLoopbackAddr(t)
		in, _ := startEngineInstance(t, []string{bin, "demo-engine", "--listen", target}, func(tm *engine.Timing) {
			tm.MinBackoff = 50 * time.Millisecond
		})
		testutil.WaitFor(t, "the engine to run", func() bool { return in.engines.State("/ws") == "running" })
		var conns []*websocket.Conn
		for range 3 {
			port := strconv.Itoa(in.Bridge.Port())
			c := dialSession(t, in, "https://localhost:"+port)
			// The session is open once the engine echoes.
			if err := c.WriteMessage(websocket.TextMessage, []byte("hi")); err != nil {
				t.Fatal(err)
			}
			c.SetReadDeadline(time.Now().Add(30 * time.Second))
			if _, _, err := c.ReadMessage(); err != nil {
				t.Fatal(err)
			}
			conns = append(conns, c)
		}
		p, err := os.FindProcess(engineStatus(t, in).PID)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Kill(); err != nil { // SIGKILL on Unix
			t.Fatal(err)
		}
		wantStatus := "signal: killed"
		if runtime.GOOS == "windows" {
			wantStatus = "exit status 1"
		}
		for i, c := range conns {
			_, _, err := c.ReadMessage()
			ce, ok := err.(*websocket.CloseError)
			if !ok || ce.Code != websocket.CloseTryAgainLater || ce.Text != "engine exited ("+wantStatus+"); restarting" {
				t.Errorf("session %d ended with %v, want 1013 engine exited (%s); restarting", i, err, wantStatus)
			}
		}
	})

	t.Run("a command that exits at once fails and is retried", func(t *testing.T) {
		target := freeLoopbackAddr(t)
		launch := []string{bin, "demo-engine", "--listen", target, "--no-such-flag"}
		in, logs := startEngineInstance(t, launch, func(tm *engine.Timing) {
			tm.MinBackoff, tm.MaxBackoff = 20*time.Millisecond, 40*time.Millisecond
		})
		testutil.WaitFor(t, "two retries", func() bool { return engineStatus(t, in).Restarts >= 2 })
		testutil.WaitFor(t, "the failed state", func() bool { return in.engines.State("/ws") == "failed" })
		st := engineStatus(t, in)
		for _, want := range []string{engine.FormatCommand(launch), "exited (exit status 2)", "before accepting connections on " + target,
			"its last stderr lines:\n", "flag provided but not defined: -no-such-flag"} {
			if !strings.Contains(st.Error, want) {
				t.Errorf("error %q\nlacks %q", st.Error, want)
			}
		}
		if st.ExitCode == nil || *st.ExitCode != 2 {
			t.Errorf("status %+v", st)
		}
		r := logs.find("engine failed to start")
		if len(r) < 2 || !strings.Contains(r[0]["err"], engine.FormatCommand(launch)) || r[0]["retry_in"] != "20ms" || r[1]["retry_in"] != "40ms" {
			t.Errorf("failure records %v", r)
		}
		if h := in.Bridge.Health(); h.Routes[0].Engine != "failed" && h.Routes[0].Engine != "restarting" {
			t.Errorf("health engine %q", h.Routes[0].Engine)
		}
	})

	t.Run("a command that cannot start fails", func(t *testing.T) {
		missing := filepath.Join(t.TempDir(), "no-such-engine")
		in, _ := startEngineInstance(t, []string{missing, "--port", "1"}, nil)
		testutil.WaitFor(t, "the failed state", func() bool { return in.engines.State("/ws") == "failed" })
		st := engineStatus(t, in)
		if !strings.Contains(st.Error, "engine "+missing+" --port 1 for /ws could not be started") || st.ExitCode != nil {
			t.Errorf("status %+v", st)
		}
	})

	t.Run("an engine that never opens its port times out", func(t *testing.T) {
		elsewhere := freeLoopbackAddr(t)
		launch := []string{bin, "demo-engine", "--listen", elsewhere}
		cfg := engineConfig(t, launch)
		target := freeLoopbackAddr(t)
		cfg.Routes[0].Target = target // where it never listens
		in, logs := startEngineInstanceWith(t, cfg, func(tm *engine.Timing) {
			tm.StartTimeout, tm.MinBackoff = 300*time.Millisecond, time.Hour
		})
		testutil.WaitFor(t, "the failed state", func() bool { return in.engines.State("/ws") == "failed" })
		st := engineStatus(t, in)
		for _, want := range []string{engine.FormatCommand(launch), "did not accept connections on " + target + " within 300ms",
			"so it was stopped", "demo engine listening"} {
			if !strings.Contains(st.Error, want) {
				t.Errorf("error %q\nlacks %q", st.Error, want)
			}
		}
		r := logs.find("engine did not open its port in time; stopping it")
		if len(r) != 1 {
			t.Fatalf("timeout records %v", r)
		}
		pid, _ := strconv.Atoi(r[0]["pid"])
		if pid == 0 || !processGone(pid) || accepts(elsewhere) {
			t.Errorf("the engine (pid %s) was not stopped", r[0]["pid"])
		}
		if r := logs.find("engine failed to start"); len(r) != 1 || r[0]["retry_in"] != "1h0m0s" {
			t.Errorf("failure records %v", r)
		}
	})

	t.Run("apply config restarts a changed engine", func(t *testing.T) {
		target := freeLoopbackAddr(t)
		in, _ := startEngineInstance(t, []string{bin, "demo-engine", "--listen", target}, nil)
		testutil.WaitFor(t, "the engine to run", func() bool { return in.engines.State("/ws") == "running" })
		old := engineStatus(t, in).PID

		cfg := in.RunningConfig()
		cfg.AllowedOrigins = []string{"https://editor.example.com"} // not an engine change
		if err := in.ApplyConfig(cfg); err != nil {
			t.Fatal(err)
		}
		if st := engineStatus(t, in); st.PID != old || st.State != engine.Running {
			t.Fatalf("an unrelated change restarted the engine: %+v", st)
		}
		moved := freeLoopbackAddr(t)
		cfg.Routes = []config.Route{{Path: "/ws", Target: moved, Framing: "raw", Launch: []string{bin, "demo-engine", "--listen", moved}}}
		if err := in.ApplyConfig(cfg); err != nil {
			t.Fatal(err)
		}
		if !processGone(old) {
			t.Errorf("the old engine (pid %d) still runs", old)
		}
		testutil.WaitFor(t, "the new engine to run", func() bool { return in.engines.State("/ws") == "running" })
		if got := echoThroughBridge(t, in, "moved"); got != "moved" {
			t.Errorf("relayed %q", got)
		}
		cfg.Routes[0].Launch = nil
		if err := in.ApplyConfig(cfg); err != nil {
			t.Fatal(err)
		}
		if s := in.engines.State("/ws"); s != "" || len(in.EngineStatus()) != 0 {
			t.Errorf("state %q, status %v after launch was removed", s, in.EngineStatus())
		}
	})

	t.Run("launch_dir and launch_env reach the engine; values are not logged", func(t *testing.T) {
		if runtime.GOOS == "windows" {
			t.Skip("uses /bin/sh")
		}
		dir := t.TempDir()
		launch := []string{"/bin/sh", "-c", `echo "secret length ${#ORION_SECRET}" >&2; echo "dir=$(pwd)" >&2; exit 3`}
		cfg := engineConfig(t, launch)
		cfg.Routes[0].LaunchDir = dir
		cfg.Routes[0].LaunchEnv = map[string]string{"ORION_SECRET": "s3cret-value", "LANG": "C"}
		in, logs := startEngineInstanceWith(t, cfg, func(tm *engine.Timing) { tm.MinBackoff = time.Hour })
		testutil.WaitFor(t, "the failed state", func() bool { return in.engines.State("/ws") == "failed" })
		st := engineStatus(t, in)
		realDir, _ := filepath.EvalSymlinks(dir)
		if !strings.Contains(st.Error, "secret length 12") || !strings.Contains(st.Error, "dir="+realDir) || *st.ExitCode != 3 {
			t.Errorf("status %+v", st)
		}
		if r := logs.find("starting engine"); len(r) != 1 || r[0]["env"] != "LANG ORION_SECRET" || r[0]["dir"] != dir {
			t.Errorf("start records %v", r)
		}
		if leaked := logs.containing("s3cret-value"); len(leaked) > 0 {
			t.Errorf("a launch_env value was logged: %v", leaked)
		}
	})
}

// buildOrionBridge builds the module's binary into a temporary directory.
func buildOrionBridge(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "orionbridge")
	if runtime.GOOS == "windows" {
		bin += ".exe"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "..")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build -o %s ..: %v\n%s", bin, err, out)
	}
	return bin
}

// freeLoopbackAddr is 127.0.0.1 with a port that was free a moment ago.
func freeLoopbackAddr(t *testing.T) string {
	return "127.0.0.1:" + strconv.Itoa(uniquePort(t))
}

// handedOut are the ports uniquePort gave: a port closed after the kernel
// chose it may be chosen again, and a bridge and its engine must differ.
var handedOut = struct {
	sync.Mutex
	ports map[int]bool
}{ports: map[int]bool{}}

// uniquePort is a free port that this test binary has not used yet.
func uniquePort(t *testing.T) int {
	t.Helper()
	for {
		p := testutil.FreePort(t)
		handedOut.Lock()
		seen := handedOut.ports[p]
		handedOut.ports[p] = true
		handedOut.Unlock()
		if !seen {
			return p
		}
	}
}

func engineConfig(t *testing.T, launch []string) config.Config {
	t.Helper()
	cfg := config.Default()
	cfg.Port, cfg.FallbackPorts, cfg.DataDir = uniquePort(t), nil, t.TempDir()
	cfg.Routes = []config.Route{{Path: "/ws", Target: freeLoopbackAddr(t), Framing: "raw", Launch: launch}}
	// demo-engine --listen ADDR: the target is the address it listens on.
	if i := slices.Index(launch, "--listen"); i >= 0 && i+1 < len(launch) {
		cfg.Routes[0].Target = launch[i+1]
	}
	return cfg
}

// startEngineInstance starts an Instance whose one route launches launch.
// tune shortens the engine timing.
func startEngineInstance(t *testing.T, launch []string, tune func(*engine.Timing)) (*Instance, *logCapture) {
	t.Helper()
	return startEngineInstanceWith(t, engineConfig(t, launch), tune)
}

func startEngineInstanceWith(t *testing.T, cfg config.Config, tune func(*engine.Timing)) (*Instance, *logCapture) {
	t.Helper()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	logs := &logCapture{}
	in, err := NewInstance("test", cfg, logs)
	if err != nil {
		t.Fatal(err)
	}
	in.SetConfigPath(filepath.Join(t.TempDir(), "config.toml"))
	if tune != nil {
		tm := engine.DefaultTiming()
		tune(&tm)
		in.engines.SetTiming(tm)
	}
	if err := in.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := in.Stop(); err != nil {
			t.Errorf("Stop: %v", err)
		}
		if t.Failed() {
			t.Logf("log records:\n%s", logs)
		}
	})
	return in, logs
}

func engineStatus(t *testing.T, in *Instance) engine.Status {
	t.Helper()
	list := in.EngineStatus()
	if len(list) != 1 {
		t.Fatalf("engine status %v", list)
	}
	return list[0]
}

// echoThroughBridge sends msg through the bridge's /ws session and returns the reply.
func echoThroughBridge(t *testing.T, in *Instance, msg string) string {
	t.Helper()
	d := testutil.BridgeDialer(t, in.RunningConfig().DataDir)
	port := strconv.Itoa(in.Bridge.Port())
	c, _, err := d.Dial("wss://localhost:"+port+"/ws", http.Header{"Origin": {"https://localhost:" + port}})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	if err := c.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
		t.Fatal(err)
	}
	var got []byte
	for len(got) < len(msg) {
		_, p, err := c.ReadMessage()
		if err != nil {
			t.Fatalf("read after %q: %v", got, err)
		}
		got = append(got, p...)
	}
	return string(got)
}

// logCapture is a slog.Handler keeping every record's message and attrs.
type logCapture struct {
	mu      sync.Mutex
	records []capturedRecord
}

type capturedRecord struct {
	msg   string
	attrs map[string]string
}

func (c *logCapture) Enabled(context.Context, slog.Level) bool { return true }

func (c *logCapture) Handle(_ context.Context, r slog.Record) error {
	rec := capturedRecord{msg: r.Message, attrs: map[string]string{}}
	r.Attrs(func(a slog.Attr) bool {
		rec.attrs[a.Key] = a.Value.Resolve().String()
		return true
	})
	c.mu.Lock()
	c.records = append(c.records, rec)
	c.mu.Unlock()
	return nil
}

func (c *logCapture) WithAttrs([]slog.Attr) slog.Handler { return c }
func (c *logCapture) WithGroup(string) slog.Handler      { return c }

// find returns the attrs of the records with message msg, in order.
func (c *logCapture) find(msg string) []map[string]string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var found []map[string]string
	for _, r := range c.records {
		if r.msg == msg {
			found = append(found, r.attrs)
		}
	}
	return found
}

// messages lists, in order, the records whose message is one of msgs.
func (c *logCapture) messages(msgs ...string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var found []string
	for _, r := range c.records {
		if slices.Contains(msgs, r.msg) {
			found = append(found, r.msg)
		}
	}
	return found
}

// containing lists the records with s in their message or an attr.
func (c *logCapture) containing(s string) []capturedRecord {
	c.mu.Lock()
	defer c.mu.Unlock()
	var found []capturedRecord
	for _, r := range c.records {
		if strings.Contains(fmt.Sprint(r.msg, r.attrs), s) {
			found = append(found, r)
		}
	}
	return found
}

func (c *logCapture) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var b strings.Builder
	for _, r := range c.records {
		fmt.Fprintf(&b, "  %s %v\n", r.msg, r.attrs)
	}
	return b.String()
}

// accepts reports whether target takes a TCP connection now.
func accepts(target string) bool {
	c, err := net.DialTimeout("tcp", target, time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}
