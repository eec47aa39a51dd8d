//go:build linux

package wine

// The MSI under Wine, as IT would use it: a silent install with the public
// properties, the installed bridge serving the Linux side (a Go client and
// a real Chromium) over the loopback Wine shares with Linux, a second
// bridge refused, and the uninstall. Each step is checked from outside the
// exe where possible: the prefix's files, `wine reg query`, what listens,
// what a client sees.

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"orionbridge/internal/testutil"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"
	"github.com/gorilla/websocket"
	"github.com/pelletier/go-toml/v2"
)

const (
	installDir = `C:\Program Files\Orion Bridge`
	runKey     = `HKLM\Software\Microsoft\Windows\CurrentVersion\Run`
	rootCerts  = `HKLM\Software\Microsoft\SystemCertificates\ROOT\Certificates`
	managed    = `C:\ProgramData\OrionBridge\config.toml`
	headless   = installDir + `\orionbridge-headless.exe`
	// msiLimit bounds one msiexec run; an install takes seconds under Wine.
	msiLimit = 5 * time.Minute
	// waitLimit bounds every other wait.
	waitLimit = time.Minute
	echoText  = "hello from the Linux side"
)

var msiBuild struct {
	once          sync.Once
	root, version string
	msi           string
}

// builtMSI builds dist/OrionBridge-<version>-x64.msi with the Makefile's
// rules, once, and returns the repository root and the MSI's path.
func builtMSI(t *testing.T) (root, msi string) {
	t.Helper()
	root = setup(t, msiTools...)
	msiBuild.once.Do(func() {
		data, err := os.ReadFile(filepath.Join(root, "FyneApp.toml"))
		if err != nil {
			t.Fatal(err)
		}
		// FyneApp.toml's [Details] Version, the version's single source.
		// Read here rather than through the app package, so the check does
		// not depend on the code it installs.
		var meta struct{ Details struct{ Version string } }
		if err := toml.Unmarshal(data, &meta); err != nil || meta.Details.Version == "" {
			t.Fatalf("FyneApp.toml: no [Details] Version (%v)", err)
		}
		msiBuild.root, msiBuild.version = root, meta.Details.Version
		msiBuild.msi = filepath.Join(root, "dist", "OrionBridge-"+meta.Details.Version+"-x64.msi")
		// ORIONBRIDGE_WINE_MSI=/path/X.msi tests that MSI (with its exes in
		// the windows/ folder beside it, as dist/ has them) instead of
		// building one: an older build, to see a regression test fail.
		if given := os.Getenv("ORIONBRIDGE_WINE_MSI"); given != "" {
			msiBuild.msi = given
		} else {
			testutil.Make(t, root, "wine-check", "dist-msi")
		}
	})
	if msiBuild.msi == "" {
		t.Fatal("the MSI was not built (see the first test that tried)")
	}
	return msiBuild.root, msiBuild.msi
}

// msiexec runs `msiexec args… /qn /l*v C:\<log>`; on failure the test
// fails with the log's last lines.
func (p *prefix) msiexec(t *testing.T, log string, args ...string) {
	t.Helper()
	out, err := p.msiexecErr(log, args...)
	if err != nil {
		t.Fatalf("%v\n%s\nlast lines of %s:\n%s", err, out, log, lastLines(p.msiLog(log), 60))
	}
}

// msiexecErr runs `msiexec args… /qn /l*v C:\<log>` and returns its output
// and error.
func (p *prefix) msiexecErr(log string, args ...string) (string, error) {
	p.t.Helper()
	start := time.Now()
	out, err := p.wine(msiLimit, append(append([]string{"msiexec"}, args...), "/qn", "/l*v", `C:\`+log)...)
	p.t.Logf("msiexec %s: %v (%v)", strings.Join(args, " "), time.Since(start).Round(100*time.Millisecond), err)
	return out, err
}

// msiLog is the text of the verbose log C:\<log>.
func (p *prefix) msiLog(log string) string {
	data, _ := os.ReadFile(p.path(`C:\` + log))
	return string(data)
}

// lastLines is the last n lines of text.
func lastLines(text string, n int) string {
	lines := strings.Split(text, "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// caOf returns the CA the installed bridges' certificate chains to, the
// machine CA that the MSI's `certs machine install` made in
// %ProgramData%\OrionBridge (every user's bridge serves its leaf), and its
// SHA-1 thumbprint, as the registry names it.
func caOf(t *testing.T, p *prefix) (*x509.Certificate, string) {
	t.Helper()
	ca := readCert(t, p, machineCAPEM)
	return ca, thumbprint(ca)
}

// startMenuShortcut returns the shortcut's path if it exists. Wine 8's
// msiexec puts a per-machine package's shortcut in the installing user's
// Start Menu, not in ProgramData's, so either counts.
func startMenuShortcut(p *prefix) (string, bool) {
	for _, pattern := range []string{
		filepath.Join(p.dir, "drive_c", "ProgramData", "Microsoft", "Windows", "Start Menu", "Programs", "Orion Bridge.lnk"),
		filepath.Join(p.dir, "drive_c", "users", "*", "AppData", "Roaming", "Microsoft", "Windows", "Start Menu", "Programs", "Orion Bridge.lnk"),
	} {
		if m, _ := filepath.Glob(pattern); len(m) > 0 {
			return m[0], true
		}
	}
	return "", false
}

func sameFile(t *testing.T, got, want string) {
	t.Helper()
	a, err := os.ReadFile(got)
	if err != nil {
		t.Errorf("installed file: %v", err)
		return
	}
	b, err := os.ReadFile(want)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Errorf("%s differs from the built %s", got, want)
	}
}

// TestMSIInstallServeUninstall is the MSI's life under Wine. It fails
// before the fixes of issue 14 at: the second bridge (port in use:
// WSAEADDRINUSE was not recognised) and the uninstall (the store walk in
// `certs uninstall --scope system` never ended, and once it did, the CA
// stayed in the registry).
func TestMSIInstallServeUninstall(t *testing.T) {
	_, msi := builtMSI(t)
	setup(t, toolChromium, toolCertutil)

	// The page Chromium opens, served from the Linux side; its origin is
	// what the install allows.
	port := testutil.FreePort(t)
	enginePort := testutil.FreePort(t, port)
	page := httptest.NewServer(nil)
	t.Cleanup(page.Close)
	origin := page.URL
	page.Config.Handler = pageHandler(port)

	p := newPrefix(t, "")
	copyFile(t, msi, p.path(`C:\OrionBridge.msi`))
	p.msiexec(t, "install.log", "/i", `C:\OrionBridge.msi`,
		"PORT="+strconv.Itoa(port),
		"ALLOWED_ORIGINS="+origin+",https://shop.example.com",
		"ENGINE_ADDRESS=127.0.0.1:"+strconv.Itoa(enginePort))
	p.allowLinuxClients(t)

	t.Run("installed", func(t *testing.T) {
		built := filepath.Join(filepath.Dir(msi), "windows")
		sameFile(t, p.path(installDir+`\orionbridge.exe`), filepath.Join(built, "orionbridge.exe"))
		sameFile(t, p.path(headless), filepath.Join(built, "orionbridge-headless.exe"))
		if lnk, ok := startMenuShortcut(p); !ok {
			t.Error("no Start Menu shortcut Orion Bridge.lnk (in ProgramData's or the user's Start Menu)")
		} else {
			t.Logf("Start Menu shortcut: %s", lnk)
		}
		if v, ok := p.regQuery(runKey, "Orion Bridge"); !ok || v != `"`+installDir+`\orionbridge.exe" --at-login` {
			t.Errorf(`%s "Orion Bridge" = %q (exists %v), want "%s\orionbridge.exe" --at-login, the path in quotes`, runKey, v, ok, installDir)
		}
		var cfg struct {
			Port           int      `toml:"port"`
			AllowedOrigins []string `toml:"allowed_origins"`
			Routes         []struct {
				Path, Target, Framing string
			} `toml:"routes"`
		}
		data, err := os.ReadFile(p.path(managed))
		if err != nil {
			t.Fatalf("the managed config: %v", err)
		}
		if err := toml.Unmarshal(data, &cfg); err != nil {
			t.Fatalf("%s: %v\n%s", managed, err, data)
		}
		if cfg.Port != port || !slices.Equal(cfg.AllowedOrigins, []string{origin, "https://shop.example.com"}) ||
			len(cfg.Routes) != 1 || cfg.Routes[0].Target != "127.0.0.1:"+strconv.Itoa(enginePort) || cfg.Routes[0].Path != "/ws" {
			t.Errorf("%s:\n%s\nwant port %d, allowed_origins [%s https://shop.example.com], one route /ws to 127.0.0.1:%d",
				managed, data, port, origin, enginePort)
		}
		_, thumb := caOf(t, p)
		if !p.regKeyExists(rootCerts + `\` + thumb) {
			t.Errorf("the CA (SHA-1 %s) is not in LocalMachine\\Root: no key %s\\%s", thumb, rootCerts, thumb)
		}
	})

	t.Run("headless version on the console", func(t *testing.T) {
		// orionbridge-headless.exe is the console build: its output must
		// reach a console (here, Wine's stdout) as text.
		out, err := p.wine(waitLimit, headless, "version")
		if err != nil || !strings.HasPrefix(out, "orionbridge "+msiBuild.version) {
			t.Errorf("orionbridge-headless.exe version: %v, printed %q; want \"orionbridge %s\"", err, out, msiBuild.version)
		}
	})

	ca, thumb := caOf(t, p)
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	engine := p.start("demo engine", headless, "demo-engine", "--listen", "127.0.0.1:"+strconv.Itoa(enginePort))
	engine.waitForOutput(t, "demo engine listening", waitLimit)
	bridge := p.start("bridge", headless, "run")
	bridge.waitForOutput(t, `msg="bridge listening" endpoint=wss://localhost:`+strconv.Itoa(port)+" ", waitLimit)

	t.Run("go client echo", func(t *testing.T) {
		echoThrough(t, pool, port, origin)
	})

	t.Run("plain-HTTP probe", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodGet, "http://localhost:"+strconv.Itoa(port)+"/health", nil)
		req.Header.Set("Origin", origin)
		resp, err := (&http.Client{Timeout: waitLimit}).Do(req)
		if err != nil {
			t.Fatalf("GET http://localhost:%d/health: %v", port, err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
		var h struct{ App, TLS string }
		if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &h) != nil || h.App != "Orion Bridge" ||
			h.TLS != "use https://localhost:"+strconv.Itoa(port) || resp.Header.Get("Access-Control-Allow-Origin") != origin {
			t.Errorf("plain /health: %d %s, CORS %q; want 200 {app: Orion Bridge, tls: use https://localhost:%d} for %s",
				resp.StatusCode, body, resp.Header.Get("Access-Control-Allow-Origin"), port, origin)
		}
	})

	t.Run("chromium echo", func(t *testing.T) {
		res := chromiumVisit(t, ca, origin, port)
		if !res.Opened || res.Received != echoText || res.Health != "ok" {
			t.Errorf("page result %+v; want the echo %q and /health ok", res, echoText)
		}
	})

	t.Run("second bridge refused", func(t *testing.T) {
		second := p.start("second bridge", headless, "run")
		err := second.wait(waitLimit)
		want := regexp.MustCompile(`already running at wss://localhost:` + strconv.Itoa(port) + ` \(pid [0-9]+\)`)
		if err == nil || !want.MatchString(second.out.String()) {
			t.Errorf("second bridge: %v\n%s\nwant it to end saying %s", err, second.out, want)
		}
	})

	t.Run("1013 with the engine down", func(t *testing.T) {
		engine.stop()
		c := dialBridge(t, pool, port, origin)
		defer c.Close()
		_, _, err := c.ReadMessage()
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != 1013 {
			t.Errorf("with the engine down: %v; want close 1013 (engine not running)", err)
		}
	})

	bridge.stop()
	p.msiexec(t, "uninstall.log", "/x", `C:\OrionBridge.msi`)
	t.Run("uninstalled", func(t *testing.T) {
		for _, f := range []string{installDir + `\orionbridge.exe`, headless} {
			if _, err := os.Stat(p.path(f)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("%s: %v; want it gone", f, err)
			}
		}
		if lnk, ok := startMenuShortcut(p); ok {
			t.Errorf("Start Menu shortcut %s left", lnk)
		}
		if v, ok := p.regQuery(runKey, "Orion Bridge"); ok {
			t.Errorf(`%s "Orion Bridge" = %q left`, runKey, v)
		}
		if p.regKeyExists(rootCerts + `\` + thumb) {
			t.Errorf("the CA (SHA-1 %s) is still in LocalMachine\\Root", thumb)
		}
		// The managed config is IT's: it stays.
		if _, err := os.Stat(p.path(managed)); err != nil {
			t.Errorf("%s: %v; the uninstall must keep it", managed, err)
		}
	})
}

// echoThrough sends echoText through the bridge on port and checks that
// the engine's echo comes back whole, in as many messages as it takes.
func echoThrough(t *testing.T, pool *x509.CertPool, port int, origin string) {
	t.Helper()
	c := dialBridge(t, pool, port, origin)
	defer c.Close()
	if err := c.WriteMessage(websocket.TextMessage, []byte(echoText)); err != nil {
		t.Fatal(err)
	}
	var got []byte
	for len(got) < len(echoText) {
		_, msg, err := c.ReadMessage()
		if err != nil {
			t.Fatalf("read the echo (got %q so far): %v", got, err)
		}
		got = append(got, msg...)
	}
	if string(got) != echoText {
		t.Errorf("echo %q, want %q", got, echoText)
	}
}

func dialBridge(t *testing.T, pool *x509.CertPool, port int, origin string) *websocket.Conn {
	t.Helper()
	dialer := websocket.Dialer{TLSClientConfig: &tls.Config{RootCAs: pool}, HandshakeTimeout: waitLimit}
	c, resp, err := dialer.Dial("wss://localhost:"+strconv.Itoa(port)+"/ws", http.Header{"Origin": {origin}})
	if err != nil {
		status := ""
		if resp != nil {
			status = resp.Status
		}
		t.Fatalf("dial wss://localhost:%d/ws from the Linux side: %v %s", port, err, status)
	}
	_ = c.SetReadDeadline(time.Now().Add(waitLimit))
	return c
}

// pageHTML opens the bridge's WebSocket, sends the echo text and fetches
// /health; it records what happened in window.result.
const pageHTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Orion Bridge under Wine</title><link rel="icon" href="data:,"></head>
<body><script>
"use strict";
window.result = {done: false, opened: false, received: "", closeCode: 0, health: "pending"};
(function () {
  var r = window.result, wsDone = false, healthDone = false, decoder = new TextDecoder();
  function finish() { r.done = wsDone && healthDone; }
  var ws = new WebSocket("wss://localhost:PORT/ws");
  ws.binaryType = "arraybuffer";
  ws.onopen = function () { r.opened = true; ws.send(ECHO); };
  ws.onmessage = function (ev) {
    r.received += typeof ev.data === "string" ? ev.data : decoder.decode(ev.data, {stream: true});
    if (r.received.length >= ECHO.length) ws.close(1000, "got the echo");
  };
  ws.onclose = function (ev) { r.closeCode = ev.code; wsDone = true; finish(); };
  fetch("https://localhost:PORT/health", {cache: "no-store"}).then(function (resp) {
    return resp.json().then(function (h) { r.health = resp.ok && h.status === "ok" ? "ok" : "bad: " + JSON.stringify(h); });
  }).catch(function (err) { r.health = "failed: " + err; }).then(function () { healthDone = true; finish(); });
})();
</script></body></html>`

func pageHandler(port int) http.Handler {
	html := strings.NewReplacer("PORT", strconv.Itoa(port), "ECHO", strconv.Quote(echoText)).Replace(pageHTML)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = io.WriteString(w, html)
	})
}

type pageResult struct {
	Done      bool   `json:"done"`
	Opened    bool   `json:"opened"`
	Received  string `json:"received"`
	CloseCode int    `json:"closeCode"`
	Health    string `json:"health"`
}

// chromiumVisit opens the page in Debian's Chromium, headless, trusting the
// Windows bridge's CA through an NSS database in a temporary HOME (never
// --ignore-certificate-errors), with the page's origin made public, so
// that Local Network Access applies as to a shop on the internet, and the
// loopback permission granted, as the user would.
func chromiumVisit(t *testing.T, ca *x509.Certificate, origin string, port int) pageResult {
	t.Helper()
	home := t.TempDir()
	nssdb := filepath.Join(home, ".pki", "nssdb")
	if err := os.MkdirAll(nssdb, 0o700); err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(home, "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"-N", "-d", "sql:" + nssdb, "--empty-password"},
		{"-A", "-d", "sql:" + nssdb, "-t", "C,,", "-n", "Orion Bridge under Wine", "-i", caFile},
	} {
		if out, err := exec.Command("certutil", args...).CombinedOutput(); err != nil {
			t.Fatalf("certutil %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	hostPort := strings.TrimPrefix(origin, "http://")
	_, pagePort, _ := net.SplitHostPort(hostPort)
	out := new(testutil.LockedBuffer)
	base, cancelBase := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancelBase()
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(base,
		chromedp.ExecPath(toolChromium.Name),
		chromedp.NoInheritEnv,
		chromedp.Env("HOME="+home, "PATH=/usr/bin:/bin"),
		chromedp.UserDataDir(filepath.Join(home, "profile")),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("ip-address-space-overrides", "127.0.0.1:"+pagePort+"=public"),
		chromedp.CombinedOutput(out))
	defer cancelAlloc()
	ctx, cancelTab := chromedp.NewContext(allocCtx)
	defer cancelTab()
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start Chromium: %v\n%s", err, out)
	}
	wctx, cancel := context.WithTimeout(ctx, waitLimit)
	defer cancel()
	if _, err := chromedp.Call(wctx, cdpbrowser.SetPermission, cdpbrowser.SetPermissionParams{
		Permission: &cdpbrowser.PermissionDescriptor{Name: "loopback-network"},
		Setting:    cdpbrowser.PermissionSettingGranted,
		Origin:     origin,
	}); err != nil {
		t.Fatalf("Browser.setPermission loopback-network for %s: %v", origin, err)
	}
	if err := chromedp.Do(wctx, chromedp.Navigate(origin+"/")); err != nil {
		t.Fatalf("navigate to %s: %v", origin, err)
	}
	res, err := chromedp.Run(wctx, chromedp.Poll[pageResult](`window.result && window.result.done ? window.result : null`,
		chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(waitLimit)))
	if err != nil {
		t.Fatalf("the page did not finish: %v\nChromium:\n%s", err, out)
	}
	t.Logf("page result: %+v", res)
	return res
}
