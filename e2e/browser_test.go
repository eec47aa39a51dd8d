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
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"orionbridge/internal/testutil"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

const echoText = "hello from chromium"

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
	e.port = testutil.FreePort(t)
	e.enginePort = testutil.FreePort(t, e.port)

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

// openBrowser starts a Chromium whose HOME is the test's.
func (e *env) openBrowser(t *testing.T) *browser {
	t.Helper()
	return openBrowser(t, e.home)
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
// certificate as trusted (client_test.go takes its screenshot).
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
	// Which certificate, and why (no machine certificate in a test).
	if !strings.Contains(d.Certificate, "this user's own certificate") {
		t.Errorf("diagnostics page certificate section %q; want it to say the user's own certificate is served", d.Certificate)
	}
}
