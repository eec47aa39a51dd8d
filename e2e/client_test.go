//go:build linux

package e2e

// Issue 7: the JS client (assets/web/client.js) in a real browser. The
// example shop page runs from `orionbridge demo-site` on 127.0.0.1, which
// Chromium is told to treat as a public site, so Chrome's Local Network
// Access applies to it exactly as to a shop on the internet; its editor
// iframe comes from http://localhost:<site port>, another origin. The
// bridge's CA is trusted only through `orionbridge certs install --scope
// user` in a temporary HOME. The page must connect, survive an engine and a
// bridge restart, and name every failure: engine-down, permission, origin,
// not-running and certificate.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"orionbridge/internal/testutil"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"
)

// reasonMessages are the English messages client.js shows for each reason,
// as the table has them.
var reasonMessages = map[string]string{
	"not-running": "Orion Bridge is not running or not installed",
	"certificate": `the certificate isn't trusted: run "Trust Certificate" in the tray`,
	"origin":      "this site isn't allowed: allow it in the tray",
	"permission":  "the browser's local network access permission was denied",
	"engine-down": "the report engine isn't running",
}

// clientEnv is one HOME with a bridge, a demo engine and two demo sites:
// site, whose editor origin the bridge allows, and other, whose it does not.
type clientEnv struct {
	home, config string
	port         int // the bridge's
	spare        int // a port where nothing listens, listed before the bridge's
	enginePort   int
	site, other  int
	engine       *process
	bridge       *process
}

func newClientEnv(t *testing.T) *clientEnv {
	t.Helper()
	requireTools(t)
	orionbridge(t) // build first, so a build failure is reported as such
	e := &clientEnv{home: t.TempDir()}
	e.port = testutil.FreePort(t)
	e.spare = testutil.FreePort(t, e.port)
	e.enginePort = testutil.FreePort(t, e.port, e.spare)
	e.site = testutil.FreePort(t, e.port, e.spare, e.enginePort)
	e.other = testutil.FreePort(t, e.port, e.spare, e.enginePort, e.site)
	e.config = filepath.Join(e.home, "orionbridge.toml")
	// /ws is raw, as `make run` has it: the editor uses it. /lines turns
	// lines into text messages, for the diagnostics console.
	config := fmt.Sprintf(`port = %d
fallback_ports = []
data_dir = %q
allowed_origins = ["http://localhost:%d"]

[[routes]]
path = "/ws"
target = "127.0.0.1:%d"
framing = "raw"

[[routes]]
path = "/lines"
target = "127.0.0.1:%d"
framing = "lines"
`, e.port, filepath.Join(e.home, "data"), e.site, e.enginePort, e.enginePort)
	if err := os.WriteFile(e.config, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	mustOrion(t, e.home, "certs", "install", "--scope", "user", "--config", e.config)
	e.startEngine(t)
	e.startBridge(t)
	for _, port := range []int{e.site, e.other} {
		site := start(t, e.home, "demo-site", "demo-site", "--listen", "127.0.0.1:"+strconv.Itoa(port))
		site.waitForOutput(t, "demo site listening")
	}
	return e
}

func (e *clientEnv) startEngine(t *testing.T) {
	t.Helper()
	e.engine = start(t, e.home, "demo-engine", "demo-engine", "--listen", "127.0.0.1:"+strconv.Itoa(e.enginePort))
	e.engine.waitForOutput(t, "demo engine listening")
}

func (e *clientEnv) startBridge(t *testing.T) {
	t.Helper()
	e.bridge = start(t, e.home, "bridge", "run", "--config", e.config)
	e.bridge.waitForOutput(t, `msg="bridge listening" endpoint=wss://localhost:`+strconv.Itoa(e.port)+" ")
}

// shopURL is the example shop page on the given demo site. The spare port
// comes first, so the client must find the bridge on the second.
func (e *clientEnv) shopURL(site int) string {
	return fmt.Sprintf("http://127.0.0.1:%d/?ports=%d,%d&route=/ws", site, e.spare, e.port)
}

func shopOrigin(site int) string   { return "http://127.0.0.1:" + strconv.Itoa(site) }
func editorOrigin(site int) string { return "http://localhost:" + strconv.Itoa(site) }

// openBrowser starts Chromium treating both demo sites as public sites, as
// a shop on the internet would be.
func (e *clientEnv) openBrowser(t *testing.T) *browser {
	t.Helper()
	var overrides []string
	for _, port := range []int{e.site, e.other} {
		p := strconv.Itoa(port)
		overrides = append(overrides, "127.0.0.1:"+p+"=public", "[::1]:"+p+"=public")
	}
	return openBrowser(t, e.home, chromedp.Flag("ip-address-space-overrides", strings.Join(overrides, ",")))
}

// setLoopbackPermission sets Chrome's Local Network Access permission for
// a top-level origin. Chromium 156 gates loopback targets behind the
// permission named "loopback-network"; "local-network-access" is accepted
// by Browser.setPermission but does not open loopback.
func setLoopbackPermission(t *testing.T, b *browser, origin string, setting cdpbrowser.PermissionSetting) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, waitLimit)
	defer cancel()
	if _, err := chromedp.Call(ctx, cdpbrowser.SetPermission, cdpbrowser.SetPermissionParams{
		Permission: &cdpbrowser.PermissionDescriptor{Name: "loopback-network"},
		Setting:    setting,
		Origin:     origin,
	}); err != nil {
		t.Fatalf("Browser.setPermission loopback-network %s for %s: %v", setting, origin, err)
	}
}

// editorEntry is one line of the editor's session log.
type editorEntry struct {
	Kind string `json:"kind"`
	Type string `json:"type"`
	Text string `json:"text"`
}

// editorState is what the editor shows.
type editorState struct {
	Status  string        `json:"status"`
	Reason  string        `json:"reason"`
	Title   string        `json:"title"`
	Message string        `json:"message"`
	Port    string        `json:"port"`
	Log     []editorEntry `json:"log"`
}

func (s editorState) has(kind, text string, from int) bool {
	for i := from; i < len(s.Log); i++ {
		if s.Log[i].Kind == kind && strings.Contains(s.Log[i].Text, text) {
			return true
		}
	}
	return false
}

const editorStateJS = `JSON.stringify({
	status: document.body.dataset.status || "",
	reason: document.body.dataset.reason || "",
	title: document.getElementById("failure").hidden ? "" : document.getElementById("failure-title").textContent,
	message: document.getElementById("failure").hidden ? "" : document.getElementById("failure-message").textContent,
	port: localStorage.getItem("orionbridge.port") || "",
	log: Array.from(document.querySelectorAll("#log li")).map(function (li) {
		return {kind: li.dataset.kind || "", type: li.dataset.type || "", text: li.textContent};
	})
})`

// editor is the editor iframe of a loaded shop page.
type editor struct {
	ctx    context.Context
	cancel context.CancelFunc
}

// openShop loads the shop page and attaches to its editor iframe, which
// Chromium runs as a target of its own (it is cross-site).
func openShop(t *testing.T, b *browser, url string, editorOrigin string) *editor {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, waitLimit)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900)); err != nil {
		t.Fatalf("set the viewport: %v", err)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
		t.Fatalf("navigate to %s: %v", url, err)
	}
	want := editorOrigin + "/editor.html"
	deadline := time.Now().Add(waitLimit)
	for {
		infos, err := chromedp.Targets(ctx)
		if err != nil {
			t.Fatalf("list targets: %v", err)
		}
		for _, info := range infos {
			if info.Type == "iframe" && strings.HasPrefix(info.URL, want) {
				// Detach on cancel: closing the iframe's target would end it.
				fctx, fcancel := chromedp.NewContext(b.ctx, chromedp.WithTargetID(info.TargetID), chromedp.WithDetachOnCancel())
				if err := chromedp.Do(fctx); err != nil {
					fcancel()
					t.Fatalf("attach to the editor iframe: %v", err)
				}
				// Not canceled at the end of a subtest: later ones use it.
				// The browser's cleanup ends it with b.ctx.
				return &editor{ctx: fctx, cancel: fcancel}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no editor iframe from %s within %v; console:\n%s", want, waitLimit, b.console())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (ed *editor) state(t *testing.T) editorState {
	t.Helper()
	ctx, cancel := context.WithTimeout(ed.ctx, waitLimit)
	defer cancel()
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[string](editorStateJS))
	if err != nil {
		t.Fatalf("read the editor's state: %v", err)
	}
	var s editorState
	if err := json.Unmarshal([]byte(raw), &s); err != nil {
		t.Fatalf("editor state %s: %v", raw, err)
	}
	return s
}

// waitFor polls the editor until ok holds, for at most waitLimit.
func (ed *editor) waitFor(t *testing.T, b *browser, what string, ok func(editorState) bool) editorState {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for {
		s := ed.state(t)
		if ok(s) {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("the editor did not show %s within %v: status %q, reason %q, log:\n%s\nconsole:\n%s",
				what, waitLimit, s.Status, s.Reason, logText(s.Log), b.console())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitReason waits for a failure reason and checks the banner's words.
func (ed *editor) waitReason(t *testing.T, b *browser, reason string) editorState {
	t.Helper()
	s := ed.waitFor(t, b, "the failure "+reason, func(s editorState) bool { return s.Reason == reason })
	want := reasonMessages[reason]
	if s.Title == "" || !strings.Contains(strings.ToLower(s.Message), strings.ToLower(want)) {
		t.Errorf("reason %s: the banner shows %q / %q; want the message %q", reason, s.Title, s.Message, want)
	}
	t.Logf("the editor reports %s: %s %s", reason, s.Title, s.Message)
	return s
}

func logText(entries []editorEntry) string {
	var b strings.Builder
	for _, e := range entries {
		fmt.Fprintf(&b, "  [%s %s] %s\n", e.Kind, e.Type, e.Text)
	}
	return b.String()
}

// do runs a statement in the editor, like a user's click.
func (ed *editor) do(t *testing.T, js string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ed.ctx, waitLimit)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[any](js)); err != nil {
		t.Fatalf("run %s in the editor: %v", js, err)
	}
}

func (ed *editor) send(t *testing.T, text string, binary bool) {
	t.Helper()
	q, _ := json.Marshal(text)
	button := "send-text"
	if binary {
		button = "send-binary"
	}
	ed.do(t, `document.getElementById("message").value = `+string(q)+`; document.getElementById("`+button+`").click(); undefined`)
}

// shopBadge is the status the shop page shows from the editor's messages.
func shopBadge(t *testing.T, b *browser) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, waitLimit)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("shop-bridge").dataset.status + ": " + document.getElementById("shop-bridge-text").textContent`))
	if err != nil {
		t.Fatalf("read the shop's badge: %v", err)
	}
	return s
}

// screenshot saves the page as name in $ORION_SCREENSHOT_DIR, when set. A
// relative directory is taken from the module root (the Makefile passes
// docs/screenshots), not from e2e/, where go test runs.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	dir := os.Getenv("ORION_SCREENSHOT_DIR")
	if dir == "" {
		return
	}
	if !filepath.IsAbs(dir) {
		dir = filepath.Join("..", dir)
	}
	sctx, cancel := context.WithTimeout(ctx, waitLimit)
	defer cancel()
	png, err := chromedp.Run(sctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s", path)
}

func TestJSClientInChromium(t *testing.T) {
	e := newClientEnv(t)
	b := e.openBrowser(t)
	setLoopbackPermission(t, b, shopOrigin(e.site), cdpbrowser.PermissionSettingGranted)

	// The steps share the processes and the browser, so they are steps of
	// one test rather than subtests (a subtest's cleanup would stop the
	// processes it restarted).
	step := func(name string) { t.Logf("=== step: %s", name) }

	step("connects and exchanges text and binary")
	ed := openShop(t, b, e.shopURL(e.site), editorOrigin(e.site))
	{
		s := ed.waitFor(t, b, "an open session", func(s editorState) bool { return s.Status == "open" })
		if s.Port != strconv.Itoa(e.port) {
			t.Errorf("the client remembers port %q; want the bridge's %d (found after the spare %d)", s.Port, e.port, e.spare)
		}
		// Raw framing: the engine's bytes come back as binary messages.
		ed.send(t, "render invoice 10482", false)
		ed.waitFor(t, b, "the echo of the text message", func(s editorState) bool {
			return s.has("recv", `"render invoice 10482"`, 0)
		})
		ed.send(t, "%PDF-1.7", true)
		ed.waitFor(t, b, "the echo of the binary message", func(s editorState) bool {
			return s.has("sent", "25 50 44 46 2d 31 2e 37", 0) && s.has("recv", "25 50 44 46 2d 31 2e 37", 0)
		})
		badge := shopBadge(t, b)
		if !strings.HasPrefix(badge, "open:") {
			t.Errorf("the shop's badge shows %q; want open", badge)
		}
		// The client can also be imported straight from the bridge: a
		// cross-origin module script, allowed by CORS for this origin.
		got, err := chromedp.Run(ed.ctx, chromedp.Evaluate[string](
			`import("https://localhost:`+strconv.Itoa(e.port)+`/client.js").then(function (m) { return typeof m.connect; }, function (err) { return "failed: " + err; })`,
			chromedp.EvalAwaitPromise))
		if err != nil || got != "function" {
			t.Errorf("import client.js from the bridge: %q, %v; want function", got, err)
		}
		screenshot(t, b.ctx, "example.png")
	}

	step("diagnostics page")
	testDiagnosticsPage(t, e, b)

	step("engine down, then back")
	{
		e.engine.stop(t)
		ed.waitReason(t, b, "engine-down")
		from := len(ed.state(t).Log)
		ed.send(t, "sent while the engine is down", false)
		ed.waitFor(t, b, "the message queued", func(s editorState) bool { return s.has("queued", "sent while the engine is down", from) })
		e.startEngine(t)
		ed.waitFor(t, b, "the queued message delivered after reconnecting by itself", func(s editorState) bool {
			return s.Status == "open" && s.has("recv", `"sent while the engine is down"`, from)
		})
	}

	step("bridge restart")
	{
		from := len(ed.state(t).Log)
		e.bridge.stop(t)
		ed.waitFor(t, b, "the session closed by the stopping bridge", func(s editorState) bool {
			return s.has("close", "Session closed", from) && s.Status != "open"
		})
		e.startBridge(t)
		ed.waitFor(t, b, "a new session, opened by itself", func(s editorState) bool {
			return s.Status == "open" && s.has("open", "Connected", from)
		})
		ed.send(t, "after the restart", false)
		ed.waitFor(t, b, "the echo after the restart", func(s editorState) bool { return s.has("recv", `"after the restart"`, from) })
	}

	step("permission denied")
	{
		setLoopbackPermission(t, b, shopOrigin(e.site), cdpbrowser.PermissionSettingDenied)
		ed = openShop(t, b, e.shopURL(e.site), editorOrigin(e.site))
		ed.waitReason(t, b, "permission")
		if badge := shopBadge(t, b); !strings.HasPrefix(badge, "failed:") || !strings.Contains(badge, reasonMessages["permission"]) {
			t.Errorf("the shop's badge shows %q; want the permission failure", badge)
		}
	}

	step("origin not allowed")
	{
		setLoopbackPermission(t, b, shopOrigin(e.other), cdpbrowser.PermissionSettingGranted)
		other := openShop(t, b, e.shopURL(e.other), editorOrigin(e.other))
		other.waitReason(t, b, "origin")
		got, err := chromedp.Run(other.ctx, chromedp.Evaluate[string](
			`import("https://localhost:`+strconv.Itoa(e.port)+`/client.js").then(function () { return "imported"; }, function () { return "refused"; })`,
			chromedp.EvalAwaitPromise))
		if err != nil || got != "refused" {
			t.Errorf("import client.js from the bridge on an origin it does not allow: %q, %v; want refused (no CORS)", got, err)
		}
	}

	step("bridge stopped")
	{
		setLoopbackPermission(t, b, shopOrigin(e.site), cdpbrowser.PermissionSettingGranted)
		ed = openShop(t, b, e.shopURL(e.site), editorOrigin(e.site))
		ed.waitFor(t, b, "an open session", func(s editorState) bool { return s.Status == "open" })
		e.bridge.stop(t)
		ed.waitReason(t, b, "not-running")
	}

	step("certificate not trusted")
	{
		e.startBridge(t)
		mustOrion(t, e.home, "certs", "uninstall", "--scope", "user", "--config", e.config)
		// A new browser, so nothing it learnt while the CA was trusted
		// carries over.
		b2 := e.openBrowser(t)
		setLoopbackPermission(t, b2, shopOrigin(e.site), cdpbrowser.PermissionSettingGranted)
		ed2 := openShop(t, b2, e.shopURL(e.site), editorOrigin(e.site))
		ed2.waitReason(t, b2, "certificate")
	}
}

// testDiagnosticsPage opens the bridge's own page in a second tab: it must
// show the certificate trusted, the engines reachable and its Origin
// allowed, and its console must relay text and binary through the client.
func testDiagnosticsPage(t *testing.T, e *clientEnv, b *browser) {
	tab, closeTab := chromedp.NewContext(b.ctx)
	defer closeTab()
	ctx, cancel := context.WithTimeout(tab, 2*waitLimit)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900)); err != nil {
		t.Fatalf("set the viewport: %v", err)
	}
	url := "https://localhost:" + strconv.Itoa(e.port) + "/"
	resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(url))
	if err != nil || resp.Status != http.StatusOK {
		t.Fatalf("open %s: %v (%v)", url, err, resp)
	}
	type checks struct {
		Status, Certificate, Origin, Engines string
	}
	c, err := chromedp.Run(ctx, chromedp.Poll[checks](`(function () {
		var rows = ["certificate", "origin", "engines"].map(function (n) { return document.getElementById("check-" + n); });
		if (rows.some(function (r) { return r.dataset.state === "pending"; })) return null;
		function row(r) { return r.dataset.state + ": " + r.textContent.replace(/\s+/g, " ").trim(); }
		return {Status: document.getElementById("bridge-status").className, Certificate: row(rows[0]), Origin: row(rows[1]), Engines: row(rows[2])};
	})()`, chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(waitLimit)))
	if err != nil {
		t.Fatalf("the diagnostics page did not finish its checks: %v", err)
	}
	t.Logf("diagnostics checks: %+v", c)
	for name, got := range map[string]string{"status": c.Status, "certificate": c.Certificate, "origin": c.Origin, "engines": c.Engines} {
		if !strings.Contains(got, "ok") {
			t.Errorf("diagnostics %s: %q; want ok", name, got)
		}
	}
	if !strings.Contains(c.Certificate, "Trusted") {
		t.Errorf("the certificate check %q does not say it is trusted", c.Certificate)
	}
	if !strings.Contains(c.Origin, "Allowed") {
		t.Errorf("the origin check %q does not say the origin is allowed", c.Origin)
	}

	// The console, on the lines route: text comes back as text, bytes that
	// are not UTF-8 as binary.
	steps := `(async function () {
		function $(id) { return document.getElementById(id); }
		function sleep(ms) { return new Promise(function (r) { setTimeout(r, ms); }); }
		$("route").value = "/lines";
		$("route").dispatchEvent(new Event("change"));
		$("connect").click();
		for (var i = 0; i < 200 && $("ws-state").textContent !== "open"; i++) await sleep(50);
		$("message").value = "render report 42";
		$("send-text").click();
		$("message").value = "de ad be ef";
		$("send-binary").click();
		return $("ws-state").textContent;
	})()`
	if state, err := chromedp.Run(ctx, chromedp.Evaluate[string](steps, chromedp.EvalAwaitPromise)); err != nil || state != "open" {
		t.Fatalf("the diagnostics console: state %q, %v; want open", state, err)
	}
	replies, err := chromedp.Run(ctx, chromedp.Poll[[]string](`(function () {
		var got = Array.from(document.querySelectorAll("#log li.entry-recv")).map(function (li) { return li.textContent; });
		return got.length >= 2 ? got : null;
	})()`, chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(waitLimit)))
	if err != nil {
		t.Fatalf("the diagnostics console got no replies: %v", err)
	}
	all := strings.Join(replies, "\n")
	if !strings.Contains(all, "render report 42") || !strings.Contains(all, "text,") ||
		!strings.Contains(all, "de ad be ef") || !strings.Contains(all, "binary,") {
		t.Errorf("console replies %q; want the text echoed as text and de ad be ef as binary", replies)
	}
	screenshot(t, ctx, "diagnostics.png")
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[any](`document.getElementById("disconnect").click()`)); err != nil {
		t.Errorf("disconnect: %v", err)
	}
}
