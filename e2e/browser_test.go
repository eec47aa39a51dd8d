//go:build linux

package e2e

// The issue "Managed certificate": with HOME set to a temporary directory,
// `orionbridge certs install --scope user` must make Debian's Chromium,
// headless and without --ignore-certificate-errors, trust
// wss://localhost:<port>/ws; after `certs uninstall` the same page must fail
// with a certificate error.
//
// Everything runs as real processes: the orionbridge binary built from this
// module (`run` and `demo-engine`), certutil (through `certs install`), and
// /usr/bin/chromium driven over the DevTools protocol by chromedp. Chromium
// on Linux reads user trust from $HOME/.pki/nssdb, so HOME is the temporary
// directory for every child process, the browser included.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

const (
	chromiumPath = "/usr/bin/chromium"
	echoText     = "hello from chromium"
	// waitLimit bounds every wait, so a broken test fails instead of hanging.
	waitLimit = 30 * time.Second
)

// binDir holds the orionbridge binary that orionbridge builds once.
var (
	binDir    string
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "orionbridge-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// orionbridge returns the path of the orionbridge binary, built from the
// module root with `go build -o` on first use.
func orionbridge(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		gomod, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
		if err != nil {
			buildErr = fmt.Errorf("go env GOMOD: %w", err)
			return
		}
		mod := strings.TrimSpace(string(gomod))
		if mod == "" || mod == os.DevNull {
			buildErr = errors.New("go env GOMOD: not inside the orionbridge module")
			return
		}
		binPath = filepath.Join(binDir, "orionbridge")
		cmd := exec.CommandContext(ctx, "go", "build", "-o", binPath, ".")
		cmd.Dir = filepath.Dir(mod)
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build -o %s . (in %s): %w\n%s", binPath, cmd.Dir, err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// requireTools fails (CI=true) or skips when Chromium or certutil is missing.
func requireTools(t *testing.T) {
	t.Helper()
	missing := func(reason string) {
		t.Helper()
		if os.Getenv("CI") == "true" {
			t.Fatal(reason)
		}
		t.Skip(reason)
	}
	if _, err := os.Stat(chromiumPath); err != nil {
		missing("chromium not found: apt-get install chromium")
	}
	if _, err := exec.LookPath("certutil"); err != nil {
		if _, err := os.Stat("/usr/bin/certutil"); err != nil {
			missing("certutil not found: apt-get install libnss3-tools")
		}
	}
}

// syncBuffer collects the output of a process; it is safe for concurrent use.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// homeEnv is this process's environment with HOME replaced by home, and
// without the variables that would point a child at the real user's files
// (sudo's SUDO_USER makes `certs install` pick that user's home).
func homeEnv(home string) []string {
	drop := map[string]bool{
		"HOME": true, "SUDO_USER": true, "SUDO_UID": true, "SUDO_GID": true, "SUDO_COMMAND": true,
		"XDG_CONFIG_HOME": true, "XDG_DATA_HOME": true, "XDG_CACHE_HOME": true, "XDG_STATE_HOME": true,
	}
	var env []string
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); !drop[k] {
			env = append(env, kv)
		}
	}
	return append(env, "HOME="+home)
}

// process is a long-running orionbridge child process.
type process struct {
	name    string
	cmd     *exec.Cmd
	out     *syncBuffer
	done    chan struct{}
	err     error // the result of Wait, once done is closed
	stopped bool  // stop has run; the cleanup has nothing left to do
}

// start runs orionbridge with args until the test ends; the cleanup sends
// SIGTERM, waits, and fails the test unless the process exits with status 0.
func start(t *testing.T, home, name string, args ...string) *process {
	t.Helper()
	cmd := exec.Command(orionbridge(t), args...)
	cmd.Env = homeEnv(home)
	cmd.Dir = home
	p := &process{name: name, cmd: cmd, out: new(syncBuffer), done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	// Should the test binary die, the kernel kills the child too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() { p.stop(t) })
	return p
}

// stop sends SIGTERM and fails the test unless the process exits with
// status 0. It runs at cleanup, or earlier when a test stops a process.
func (p *process) stop(t *testing.T) {
	t.Helper()
	if p.stopped {
		return
	}
	p.stopped = true
	select {
	case <-p.done:
		t.Errorf("%s exited before the test ended: %v", p.name, p.err)
	default:
		if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Errorf("SIGTERM %s: %v", p.name, err)
		}
		select {
		case <-p.done:
			if p.err != nil {
				t.Errorf("%s after SIGTERM: %v (want exit status 0)", p.name, p.err)
			}
		case <-time.After(waitLimit):
			t.Errorf("%s still runs %v after SIGTERM: killing it", p.name, waitLimit)
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	}
	if t.Failed() {
		t.Logf("output of %s:\n%s", p.name, p.out)
	}
}

// waitForOutput waits until the process has printed want.
func (p *process) waitForOutput(t *testing.T, want string) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !strings.Contains(p.out.String(), want) {
		select {
		case <-p.done:
			t.Fatalf("%s exited (%v) before printing %q:\n%s", p.name, p.err, want, p.out)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not print %q within %v:\n%s", p.name, want, waitLimit, p.out)
		}
	}
}

// orion runs a short orionbridge command with HOME set to home.
func orion(t *testing.T, home string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	cmd := exec.CommandContext(ctx, orionbridge(t), args...)
	cmd.Env = homeEnv(home)
	cmd.Dir = home
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func mustOrion(t *testing.T, home string, args ...string) {
	t.Helper()
	out, err := orion(t, home, args...)
	if err != nil {
		t.Fatalf("orionbridge %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	t.Logf("orionbridge %s:\n%s", strings.Join(args, " "), out)
}

// freePort returns a TCP port that is free on 127.0.0.1 (and on ::1, where
// the bridge listens too), other than the ports in taken.
func freePort(t *testing.T, taken ...int) int {
	t.Helper()
	for range 50 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		ok := !containsInt(taken, port)
		if ln6, err := net.Listen("tcp", net.JoinHostPort("::1", strconv.Itoa(port))); err == nil {
			ln6.Close()
		} else if errors.Is(err, syscall.EADDRINUSE) {
			ok = false
		}
		ln.Close()
		if ok {
			return port
		}
	}
	t.Fatal("no free TCP port found")
	return 0
}

func containsInt(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// pageHTML opens the bridge's WebSocket, sends echoText, and fetches /health;
// it records what happened in window.result, which the test polls.
const pageHTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Orion Bridge end-to-end test</title>
<link rel="icon" href="data:,">
</head>
<body>
<p>Orion Bridge end-to-end test page: it talks to wss://BRIDGE/ws.</p>
<script>
"use strict";
window.result = {done: false, opened: false, received: "", closeCode: 0, closeReason: "",
  wsError: false, health: "pending", healthError: ""};
(function () {
  var r = window.result, wsDone = false, healthDone = false;
  function finish() { r.done = wsDone && healthDone; }
  var decoder = new TextDecoder();
  var ws = new WebSocket("wss://BRIDGE/ws");
  ws.binaryType = "arraybuffer"; // raw framing: the engine's bytes arrive as binary messages
  ws.onopen = function () { r.opened = true; ws.send("ECHO"); };
  ws.onmessage = function (ev) {
    r.received += typeof ev.data === "string" ? ev.data : decoder.decode(ev.data, {stream: true});
    if (r.received.length >= "ECHO".length) ws.close(1000, "got the echo");
  };
  ws.onerror = function () { r.wsError = true; };
  ws.onclose = function (ev) {
    r.closeCode = ev.code; r.closeReason = ev.reason; wsDone = true; finish();
  };
  fetch("https://BRIDGE/health", {cache: "no-store"}).then(function (resp) {
    return resp.json().then(function (h) {
      r.health = resp.ok && h.status === "ok" ? "ok" : "bad: " + resp.status + " " + JSON.stringify(h);
    });
  }).catch(function (err) {
    r.health = "failed"; r.healthError = String(err);
  }).then(function () { healthDone = true; finish(); });
})();
</script>
</body>
</html>
`

// pageResult is window.result.
type pageResult struct {
	Done        bool   `json:"done"`
	Opened      bool   `json:"opened"`
	Received    string `json:"received"`
	CloseCode   int    `json:"closeCode"`
	CloseReason string `json:"closeReason"`
	WSError     bool   `json:"wsError"`
	Health      string `json:"health"`
	HealthError string `json:"healthError"`
}

// env is one temporary HOME with a bridge configuration, a demo engine port
// and the test page, served over plain HTTP from 127.0.0.1.
type env struct {
	home       string
	config     string
	port       int // the bridge's
	enginePort int
	pageURL    string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	requireTools(t)
	orionbridge(t) // build first, so a build failure is reported as such
	e := &env{home: t.TempDir()}
	e.port = freePort(t)
	e.enginePort = freePort(t, e.port)

	html := strings.ReplaceAll(strings.ReplaceAll(pageHTML, "BRIDGE", "localhost:"+strconv.Itoa(e.port)), "ECHO", echoText)
	page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = io.WriteString(w, html)
	}))
	t.Cleanup(page.Close)
	e.pageURL = page.URL + "/"

	e.config = filepath.Join(e.home, "orionbridge.toml")
	config := fmt.Sprintf(`port = %d
fallback_ports = []
data_dir = %q
allowed_origins = [%q]

[[routes]]
path = "/ws"
target = "127.0.0.1:%d"
framing = "raw"
`, e.port, filepath.Join(e.home, "data"), page.URL, e.enginePort)
	if err := os.WriteFile(e.config, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *env) bridgeURL(path string) string {
	return "https://localhost:" + strconv.Itoa(e.port) + path
}

// startBridge starts the demo engine and `orionbridge run`, and waits until
// the bridge listens.
func (e *env) startBridge(t *testing.T) {
	t.Helper()
	engine := start(t, e.home, "demo-engine", "demo-engine", "--listen", "127.0.0.1:"+strconv.Itoa(e.enginePort))
	engine.waitForOutput(t, "demo engine listening")
	bridge := start(t, e.home, "bridge", "run", "--config", e.config)
	bridge.waitForOutput(t, `msg="bridge listening" endpoint=wss://localhost:`+strconv.Itoa(e.port)+" ")
}

// certsTrusted runs `orionbridge certs status`, which exits 0 iff trusted.
func (e *env) certsTrusted(t *testing.T) bool {
	t.Helper()
	out, err := orion(t, e.home, "certs", "status", "--config", e.config)
	var exit *exec.ExitError
	switch {
	case err == nil:
		return true
	case errors.As(err, &exit):
		return false
	}
	t.Fatalf("orionbridge certs status: %v\n%s", err, out)
	return false
}

// browser is one headless Chromium with a fresh profile, and what it
// reported over the DevTools protocol.
type browser struct {
	ctx context.Context

	mu       sync.Mutex
	urls     map[network.RequestID]string // from requestWillBeSent and webSocketCreated
	failures map[network.RequestID]string // loadingFailed and webSocketFrameError: the error text
	logs     []string                     // Log.entryAdded: what DevTools' console shows
}

// record runs in chromedp's event loop: it must return fast.
func (b *browser) record(ev any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch ev := ev.(type) {
	case *network.EventRequestWillBeSent:
		b.urls[ev.RequestID] = ev.Request.URL
	case *network.EventWebSocketCreated:
		b.urls[ev.RequestID] = ev.URL
	case *network.EventLoadingFailed:
		b.failures[ev.RequestID] = ev.ErrorText
	case *network.EventWebSocketFrameError:
		// A failed handshake, e.g. "Error in connection establishment:
		// net::ERR_CERT_AUTHORITY_INVALID"; WebSockets get no loadingFailed.
		if _, seen := b.failures[ev.RequestID]; !seen {
			b.failures[ev.RequestID] = ev.ErrorMessage
		}
	case *cdplog.EventEntryAdded:
		if ev.Entry != nil {
			b.logs = append(b.logs, fmt.Sprintf("%s %s: %s", ev.Entry.Level, ev.Entry.Source, ev.Entry.Text))
		}
	}
}

// loadFailure returns the error text of the failed load (or WebSocket
// handshake) of url, waiting for the event if it has not arrived yet.
func (b *browser) loadFailure(t *testing.T, url string) string {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for {
		if text, ok := b.failureOf(url); ok {
			return text
		}
		if time.Now().After(deadline) {
			t.Fatalf("Chromium reported no failed load of %s within %v; console:\n%s", url, waitLimit, b.console())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (b *browser) failureOf(url string) (string, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for id, text := range b.failures {
		if b.urls[id] == url {
			return text, true
		}
	}
	return "", false
}

func (b *browser) console() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Join(b.logs, "\n")
}

// openBrowser starts Chromium with a new profile under the test's HOME. The
// cleanup closes it, waits for it, and kills any of its processes that are
// left (found by the profile directory, which only they have on their
// command line).
func (e *env) openBrowser(t *testing.T) *browser {
	t.Helper()
	profile, err := os.MkdirTemp(e.home, "chromium-profile-")
	if err != nil {
		t.Fatal(err)
	}
	out := new(syncBuffer)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.NoInheritEnv,
		chromedp.Env(homeEnv(e.home)...), // Chromium reads $HOME/.pki/nssdb
		chromedp.UserDataDir(profile),
		chromedp.Headless,
		chromedp.NoSandbox, // we may run as root
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true), // /dev/shm is small in containers
		chromedp.WindowSize(1280, 900),
		chromedp.CombinedOutput(out),
		// Never --ignore-certificate-errors: trust must come from the NSS db.
	}
	// base caps the browser's whole life.
	base, cancelBase := context.WithTimeout(context.Background(), 3*time.Minute)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(base, opts...)
	b := &browser{urls: map[network.RequestID]string{}, failures: map[network.RequestID]string{}}
	ctx, cancelTab := chromedp.NewContext(allocCtx, chromedp.WithListener(b.record))
	t.Cleanup(func() {
		cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		if err := chromedp.Cancel(cctx); err != nil && !errors.Is(err, context.Canceled) {
			t.Logf("close Chromium: %v", err)
		}
		cancel()
		cancelTab()
		cancelAlloc() // waits until the browser process has exited
		cancelBase()
		if n := killLeftovers(profile); n > 0 {
			t.Logf("killed %d Chromium processes left over from %s", n, profile)
		}
		if t.Failed() {
			t.Logf("Chromium output:\n%s\nDevTools console:\n%s", out, b.console())
		}
	})
	// The first Do starts the browser and binds its life to ctx, so it must
	// not get a context with a short timeout.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start %s: %v\n%s", chromiumPath, err, out)
	}
	sctx, cancel := context.WithTimeout(ctx, waitLimit)
	defer cancel()
	if _, err := chromedp.Call(sctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatalf("Network.enable: %v", err)
	}
	if _, err := chromedp.Call(sctx, cdplog.Enable, cdp.Empty{}); err != nil {
		t.Fatalf("Log.enable: %v", err)
	}
	b.ctx = ctx
	return b
}

// killLeftovers SIGKILLs the processes that have --user-data-dir=profile on
// their command line: Chromium helpers that outlived the main process. The
// profile directory is unique to one browser of this test, so nothing else
// matches.
func killLeftovers(profile string) int {
	want := []byte("--user-data-dir=" + profile)
	killed := 0
	for range 10 {
		entries, err := os.ReadDir("/proc")
		if err != nil {
			return killed
		}
		found := 0
		for _, ent := range entries {
			pid, err := strconv.Atoi(ent.Name())
			if err != nil || pid == os.Getpid() {
				continue
			}
			cmdline, err := os.ReadFile("/proc/" + ent.Name() + "/cmdline")
			if err != nil {
				continue
			}
			for arg := range bytes.SplitSeq(cmdline, []byte{0}) {
				if bytes.Equal(arg, want) {
					_ = syscall.Kill(pid, syscall.SIGKILL)
					found++
					break
				}
			}
		}
		if found == 0 {
			return killed
		}
		killed += found
		time.Sleep(50 * time.Millisecond)
	}
	return killed
}

// visit loads the test page and waits until its WebSocket has closed and its
// fetch of /health has settled.
func (b *browser) visit(t *testing.T, url string) pageResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, waitLimit)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
		t.Fatalf("navigate to %s: %v", url, err)
	}
	res, err := chromedp.Run(ctx, chromedp.Poll[pageResult](`window.result && window.result.done ? window.result : null`,
		chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(waitLimit)))
	if err != nil {
		now, _ := chromedp.Run(b.ctx, chromedp.Evaluate[[]byte](`JSON.stringify(window.result)`))
		t.Fatalf("the test page did not finish: %v; window.result = %s", err, now)
	}
	t.Logf("page result: %+v", res)
	return res
}

// checkEcho asserts the page got its message echoed over wss and fetched
// /health, and that Chromium reported no failure for either.
func (e *env) checkEcho(t *testing.T, b *browser, res pageResult) {
	t.Helper()
	if !res.Opened || res.Received != echoText {
		t.Errorf("WebSocket: opened=%v, received %q, closed with %d %q; want the echo %q",
			res.Opened, res.Received, res.CloseCode, res.CloseReason, echoText)
	}
	if res.Health != "ok" {
		t.Errorf("fetch %s: %s %s; want ok", e.bridgeURL("/health"), res.Health, res.HealthError)
	}
	for _, url := range []string{"wss://localhost:" + strconv.Itoa(e.port) + "/ws", e.bridgeURL("/health")} {
		if text, ok := b.failureOf(url); ok {
			t.Errorf("Chromium reported %s failed: %s", url, text)
		}
	}
}

// checkCertRejected asserts the page could not connect, and that Chromium
// reported a certificate error (net::ERR_CERT_*) for both the WebSocket
// handshake and the fetch of /health.
func (e *env) checkCertRejected(t *testing.T, b *browser, res pageResult) {
	t.Helper()
	if res.Opened || res.Received != "" || res.CloseCode != 1006 {
		t.Errorf("WebSocket: opened=%v, received %q, closed with %d; want no connection and close code 1006",
			res.Opened, res.Received, res.CloseCode)
	}
	if res.Health != "failed" {
		t.Errorf("fetch %s: %s; want it to fail", e.bridgeURL("/health"), res.Health)
	}
	ws := "wss://localhost:" + strconv.Itoa(e.port) + "/ws"
	for _, url := range []string{ws, e.bridgeURL("/health")} {
		text := b.loadFailure(t, url)
		t.Logf("Chromium: %s failed: %s", url, text)
		if !strings.Contains(text, "net::ERR_CERT_") {
			t.Errorf("%s failed with %q; want a certificate error (net::ERR_CERT_AUTHORITY_INVALID or another net::ERR_CERT_*)", url, text)
		}
	}
}

// TestChromiumTrustsBridgeOnlyWhileCAInstalled follows a user who already
// runs Chromium: the page fails before `certs install`, works after it, and
// fails again after `certs uninstall`. Each step starts a new browser with a
// new profile, so no state carries over but the NSS database in HOME.
func TestChromiumTrustsBridgeOnlyWhileCAInstalled(t *testing.T) {
	e := newEnv(t)
	e.startBridge(t)

	if !t.Run("before install", func(t *testing.T) {
		if e.certsTrusted(t) {
			t.Fatal("certs status reports the CA trusted in a fresh HOME")
		}
		b := e.openBrowser(t)
		e.checkCertRejected(t, b, b.visit(t, e.pageURL))
	}) {
		return
	}

	if !t.Run("installed", func(t *testing.T) {
		mustOrion(t, e.home, "certs", "install", "--scope", "user", "--config", e.config)
		if !e.certsTrusted(t) {
			t.Fatal("certs status does not report the CA trusted after certs install")
		}
		b := e.openBrowser(t)
		e.checkEcho(t, b, b.visit(t, e.pageURL))
	}) {
		return
	}

	t.Run("after uninstall", func(t *testing.T) {
		mustOrion(t, e.home, "certs", "uninstall", "--scope", "user", "--config", e.config)
		if e.certsTrusted(t) {
			t.Fatal("certs status reports the CA trusted after certs uninstall")
		}
		b := e.openBrowser(t)
		e.checkCertRejected(t, b, b.visit(t, e.pageURL))
	})
}

// TestChromiumTrustsCAInstalledBeforeFirstRun installs the CA into a HOME
// where Chromium never ran, so `certs install` creates ~/.pki/nssdb, then
// starts the bridge. The diagnostics page must load and show the
// certificate as trusted; with ORION_SCREENSHOT_DIR set, a screenshot of it
// is written there as diagnostics.png.
func TestChromiumTrustsCAInstalledBeforeFirstRun(t *testing.T) {
	e := newEnv(t)
	nssdb := filepath.Join(e.home, ".pki", "nssdb")
	if _, err := os.Stat(nssdb); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("%s exists before certs install (%v)", nssdb, err)
	}
	mustOrion(t, e.home, "certs", "install", "--scope", "user", "--config", e.config)
	if _, err := os.Stat(filepath.Join(nssdb, "cert9.db")); err != nil {
		t.Fatalf("certs install did not create the NSS database: %v", err)
	}
	e.startBridge(t)

	b := e.openBrowser(t)
	e.checkEcho(t, b, b.visit(t, e.pageURL))

	// The diagnostics page, from the bridge's own origin.
	ctx, cancel := context.WithTimeout(b.ctx, waitLimit)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900)); err != nil {
		t.Fatalf("set the viewport: %v", err)
	}
	resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(e.bridgeURL("/")))
	if err != nil {
		t.Fatalf("open the diagnostics page %s: %v", e.bridgeURL("/"), err)
	}
	if resp.Status != http.StatusOK {
		t.Fatalf("diagnostics page: HTTP %d", resp.Status)
	}
	type diagnostics struct {
		Status      string `json:"status"`
		Certificate string `json:"certificate"`
	}
	d, err := chromedp.Run(ctx, chromedp.Poll[diagnostics](`(function () {
		var s = document.getElementById("bridge-status"), c = document.getElementById("certificate");
		if (!s || !c || c.hidden || /status-pending/.test(s.className)) return null;
		return {status: s.className + ": " + s.textContent, certificate: c.textContent};
	})()`, chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(waitLimit)))
	if err != nil {
		t.Fatalf("the diagnostics page did not show the bridge's status: %v", err)
	}
	t.Logf("diagnostics page: %s", d.Status)
	if !strings.Contains(d.Status, "status-ok") {
		t.Errorf("diagnostics page status %q; want status-ok", d.Status)
	}
	if !strings.Contains(d.Certificate, "trusted") || strings.Contains(d.Certificate, "not trusted") {
		t.Errorf("diagnostics page certificate section %q; want it trusted", d.Certificate)
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if dir := os.Getenv("ORION_SCREENSHOT_DIR"); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, "diagnostics.png")
		if err := os.WriteFile(path, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s", path)
	}
}
