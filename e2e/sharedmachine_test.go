//go:build linux

package e2e

// Issue 16, "done when": two real users of one machine (useradd), each
// with their own bridge (the real headless binary, run with runuser), own
// engine and own Chromium (run with runuser too, trusting only that user's
// CA). Each user's shop page, made public with --ip-address-space-overrides
// and given Local Network Access, uses client.js with the ports [X, X+1]:
// the first user's bridge holds X, the second user's has to take X+1 from
// port_range, and the second user's page must find it through X's discovery
// answer. The engines answer with their user's name, so a page that reached
// the wrong engine shows it.

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"
	"github.com/gorilla/websocket"

	"orionbridge/assets"
	"orionbridge/internal/testutil"
)

// sharedPageHTML connects with client.js to the ports in ?ports=, sends
// "hello", and reads https://localhost:<?probe=>/health as a page would;
// it records everything in window.result.
const sharedPageHTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>shop</title><link rel="icon" href="data:,"></head>
<body><p>shop page of a shared computer</p>
<script type="module">
import { connect } from "./client.js";
const q = new URLSearchParams(location.search);
const r = window.result = { done: false, status: "", reason: "", detail: "", port: 0, received: "", probeStatus: 0, probeBody: null, probeError: "", probeScheme: "" };
let probed = false, settled = false;
const finish = () => { r.done = probed && settled; };
const c = connect({ ports: q.get("ports").split(",").map(Number), route: "/ws", reconnect: false, connectTimeoutMs: 5000 });
c.on("open", () => { r.status = "open"; r.port = c.port; c.send("hello"); });
c.on("message", (e) => {
  r.received += typeof e.data === "string" ? e.data : new TextDecoder().decode(e.data);
  if (r.received.endsWith("hello")) { settled = true; finish(); }
});
c.on("failure", (e) => { r.reason = e.detail.reason; r.detail = e.detail.detail; r.port = e.detail.port || 0; });
c.on("closed", () => { r.status = r.status || "closed"; settled = true; finish(); });
// https first; another user's certificate is not one this user's browser
// trusts (each user has their own CA), so then plain HTTP, as client.js does.
const health = (scheme) => fetch(scheme + "://localhost:" + q.get("probe") + "/health", { cache: "no-store" })
  .then(async (res) => { r.probeStatus = res.status; r.probeBody = await res.json(); r.probeScheme = scheme; });
health("https").catch((err) => { r.probeError = String(err); return health("http"); })
  .catch((err) => { r.probeError += "; " + String(err); })
  .finally(() => { probed = true; finish(); });
</script></body></html>
`

type sharedResult struct {
	Done        bool            `json:"done"`
	Status      string          `json:"status"`
	Reason      string          `json:"reason"`
	Detail      string          `json:"detail"`
	Port        int             `json:"port"`
	Received    string          `json:"received"`
	ProbeStatus int             `json:"probeStatus"`
	ProbeBody   json.RawMessage `json:"probeBody"`
	ProbeError  string          `json:"probeError"`
	ProbeScheme string          `json:"probeScheme"`
}

// osUser is an account made for the test with useradd
// (testutil.AddUser).
type osUser struct{ testutil.LocalUser }

func newOSUser(t *testing.T, role string) osUser {
	t.Helper()
	u := osUser{testutil.AddUser(t, role)}
	// Runs before userdel (cleanups run last first): whatever the user
	// still runs, such as Chromium helpers, would make userdel fail.
	t.Cleanup(func() {
		_ = exec.Command("pkill", "-KILL", "-u", u.Name).Run()
		time.Sleep(100 * time.Millisecond)
	})
	return u
}

// env is u's environment for orionbridge: u's HOME, the test's announce
// directory, and no machine-wide managed config or machine certificate
// (other tests on this machine may install them meanwhile).
func (u osUser) env(announceDir string) []string {
	return []string{"HOME=" + u.Home, "ORIONBRIDGE_ANNOUNCE_DIR=" + announceDir,
		"ORIONBRIDGE_MANAGED_CONFIG=" + filepath.Join(u.Home, "no-managed-config.toml"),
		"ORIONBRIDGE_MACHINE_DIR=" + filepath.Join(u.Home, "no-machine-dir")}
}

// command runs argv as u with u.env.
func (u osUser) command(ctx context.Context, announceDir string, argv ...string) *exec.Cmd {
	args := append(append([]string{"-u", u.Name, "--", "env"}, u.env(announceDir)...), argv...)
	if ctx == nil {
		return exec.Command("runuser", args...)
	}
	return exec.CommandContext(ctx, "runuser", args...)
}

// run runs argv as u to its end.
func (u osUser) run(t *testing.T, announceDir string, argv ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	out, err := u.command(ctx, announceDir, argv...).CombinedOutput()
	if err != nil {
		t.Fatalf("as %s: %s: %v\n%s", u.Name, strings.Join(argv, " "), err, out)
	}
	return string(out)
}

// nameEngine listens on a free port and answers every read with
// "<name>:" and the bytes read.
func nameEngine(t *testing.T, name string) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	serve := func(c net.Conn) {
		defer c.Close()
		_, _ = io.Copy(prefixWriter{c, name + ":"}, c)
	}
	go func() {
		for c, err := ln.Accept(); err == nil; c, err = ln.Accept() {
			go serve(c)
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port
}

// prefixWriter writes prefix before every write.
type prefixWriter struct {
	w      io.Writer
	prefix string
}

func (p prefixWriter) Write(b []byte) (int, error) {
	if _, err := p.w.Write(append([]byte(p.prefix), b...)); err != nil {
		return 0, err
	}
	return len(b), nil
}

// freeRun finds n consecutive free loopback ports.
func freeRun(t *testing.T, n int) int {
	t.Helper()
	for range 200 {
		base := testutil.FreePort(t)
		ok := true
		for p := base + 1; p < base+n && ok; p++ {
			ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
			if ok = err == nil; ok {
				ln.Close()
			}
		}
		if ok && base+n <= 65535 {
			return base
		}
	}
	t.Fatal("no run of free ports")
	return 0
}

// sharedUser is one user's whole setup.
type sharedUser struct {
	osUser
	config  string
	bridge  *process
	browser *browser
	engine  string // what the engine prefixes
}

func TestTwoUsersTwoBridges(t *testing.T) {
	testutil.RequireRoot(t, "it creates two OS users and runs bridges and Chromium as each of them")
	testutil.RequireTools(t, testutil.Tool{Name: "useradd", Deb: "passwd"}, testutil.Tool{Name: "runuser", Deb: "util-linux"},
		testutil.Tool{Name: "setpriv", Deb: "util-linux"}, testutil.Tool{Name: "curl", Deb: "curl"}, testutil.Tool{Name: "pkill", Deb: "procps"})
	requireTools(t)
	bin := headlessBuild.build(t)
	// binDir is 0700 (MkdirTemp): the users must run the binary.
	if err := os.Chmod(filepath.Dir(bin), 0o755); err != nil {
		t.Fatal(err)
	}
	announceDir, err := os.MkdirTemp("", "orionbridge-announce-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(announceDir) })
	if err := os.Chmod(announceDir, 0o777|fs.ModeSticky); err != nil {
		t.Fatal(err)
	}

	page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		switch r.URL.Path {
		case "/":
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			io.WriteString(w, sharedPageHTML)
		case "/client.js":
			js, _ := fs.ReadFile(assets.Web, "web/client.js")
			w.Header().Set("Content-Type", "text/javascript")
			w.Write(js)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(page.Close)

	x := freeRun(t, 3)
	users := []*sharedUser{{osUser: newOSUser(t, "a")}, {osUser: newOSUser(t, "b")}}
	for i, u := range users {
		u.engine = "engine of " + u.Name
		enginePort := nameEngine(t, u.engine)
		u.config = filepath.Join(u.Home, "orionbridge.toml")
		cfg := fmt.Sprintf("port = %d\nfallback_ports = []\nport_range = [%d, %d]\ndata_dir = %q\nallowed_origins = [%q]\n\n[[routes]]\npath = \"/ws\"\ntarget = \"127.0.0.1:%d\"\n",
			x, x, x+2, filepath.Join(u.Home, "data"), page.URL, enginePort)
		if err := os.WriteFile(u.config, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(u.config, u.UID, u.GID); err != nil {
			t.Fatal(err)
		}
		u.run(t, announceDir, bin, "certs", "install", "--scope", "user", "--config", u.config)
		// setpriv execs (runuser would stay as the parent and turn
		// SIGTERM into its own death): the process stopped is the bridge.
		argv := append(append([]string{"--reuid=" + strconv.Itoa(u.UID), "--regid=" + strconv.Itoa(u.GID), "--init-groups", "--", "env"},
			u.env(announceDir)...), bin, "run", "--config", u.config)
		u.bridge = startCmd(t, "bridge of "+u.Name, exec.Command("setpriv", argv...))
		// The first user's bridge takes X; the second finds X held by
		// another user's bridge and takes the next port of the range.
		u.bridge.waitForOutput(t, `msg="bridge listening" endpoint=wss://localhost:`+strconv.Itoa(x+i)+" ")
	}
	a, b := users[0], users[1]
	b.bridge.waitForOutput(t, "port in use by another user, using the next free port")
	for _, u := range users {
		u.browser = openBrowserAs(t, u.osUser, page)
	}
	pageURL := func(ports string, probe int) string {
		return fmt.Sprintf("%s/?ports=%s&probe=%d", page.URL, ports, probe)
	}
	// Pages list the well-known port only, as a shop does: the second
	// user's page can find x+1 only through the discovery answer.
	wellKnown, both := strconv.Itoa(x), fmt.Sprintf("%d,%d", x, x+1)
	visit := func(t *testing.T, u *sharedUser, ports string, probe int) sharedResult {
		t.Helper()
		ctx, cancel := context.WithTimeout(u.browser.ctx, waitLimit)
		defer cancel()
		if err := chromedp.Do(ctx, chromedp.Navigate(pageURL(ports, probe))); err != nil {
			t.Fatalf("navigate: %v", err)
		}
		res, err := chromedp.Run(ctx, chromedp.Poll[sharedResult](`window.result && window.result.done ? window.result : null`,
			chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(waitLimit)))
		if err != nil {
			now, _ := chromedp.Run(u.browser.ctx, chromedp.Evaluate[string](`JSON.stringify(window.result)`))
			t.Fatalf("%s's page did not finish: %v; window.result = %s\nconsole:\n%s", u.Name, err, now, u.browser.console())
		}
		t.Logf("%s's page: status %q port %d received %q reason %q (%s); /health of port %d over %s: %d %s %s",
			u.Name, res.Status, res.Port, res.Received, res.Reason, res.Detail, probe, res.ProbeScheme, res.ProbeStatus, res.ProbeBody, res.ProbeError)
		return res
	}
	wantYourPort := func(t *testing.T, res sharedResult, port int) {
		t.Helper()
		var ans struct {
			App      string `json:"app"`
			Error    string `json:"error"`
			YourPort int    `json:"your_port"`
		}
		_ = json.Unmarshal(res.ProbeBody, &ans)
		if res.ProbeStatus != http.StatusForbidden || ans.App != "Orion Bridge" || ans.Error != "other-user" || ans.YourPort != port {
			t.Errorf("the other user's /health: %d %s (%s); want 403 other-user, your_port %d", res.ProbeStatus, res.ProbeBody, res.ProbeError, port)
		}
	}

	t.Run("each page reaches its own user's engine", func(t *testing.T) {
		for i, u := range users {
			other := x + 1 - i
			res := visit(t, u, wellKnown, other)
			if res.Status != "open" || res.Port != x+i || res.Received != u.engine+":hello" {
				t.Errorf("%s's page: %q on port %d, received %q (reason %q); want open on %d with %q",
					u.Name, res.Status, res.Port, res.Received, res.Reason, x+i, u.engine+":hello")
			}
			// Pointed at the other user's port, the page gets the 403 and
			// the way to its own bridge.
			wantYourPort(t, res, x+i)
		}
	})

	t.Run("status names the user and the port", func(t *testing.T) {
		for i, u := range users {
			out := u.run(t, announceDir, bin, "status", "--config", u.config)
			want := []string{"User:         " + u.Name, "Port:         " + strconv.Itoa(x+i)}
			if i == 1 {
				want[1] += fmt.Sprintf(" (another user has %d)", x)
			}
			for _, w := range want {
				if !strings.Contains(out, w+"\n") {
					t.Errorf("status as %s:\n%s\nwant the line %q", u.Name, out, w)
				}
			}
		}
	})

	t.Run("the diagnostics page names whose bridge it is", func(t *testing.T) {
		for i, u := range users {
			ctx, cancel := context.WithTimeout(u.browser.ctx, waitLimit)
			err := chromedp.Do(ctx, chromedp.Navigate(fmt.Sprintf("https://localhost:%d/", x+i)))
			if err == nil {
				_, err = chromedp.Run(ctx, chromedp.Poll[bool](`document.getElementById("user").textContent === "`+u.Name+`" || null`,
					chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(waitLimit)))
			}
			cancel()
			if err != nil {
				shown, _ := chromedp.Run(u.browser.ctx, chromedp.Evaluate[string](`document.getElementById("user").textContent`))
				t.Errorf("%s's diagnostics page shows user %q (%v); want %q", u.Name, shown, err, u.Name)
			}
		}
	})

	t.Run("a Go client of another user gets the 403", func(t *testing.T) {
		for _, u := range users {
			port := x + 1
			if u == b {
				port = x
			}
			out := u.run(t, announceDir, "curl", "-sS", "-k", "-w", " status=%{http_code}", "https://localhost:"+strconv.Itoa(port)+"/ws")
			if !strings.Contains(out, "403 Forbidden: this Orion Bridge belongs to another user of this computer") || !strings.Contains(out, "status=403") {
				t.Errorf("curl as %s to port %d: %s", u.Name, port, out)
			}
		}
		// This test's own process is root: a third user, with no bridge.
		for _, port := range []int{x, x + 1} {
			// Not verifying: root trusts neither user's CA, and the answer,
			// not the certificate, is under test.
			d := websocket.Dialer{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, HandshakeTimeout: waitLimit}
			_, resp, err := d.Dial("wss://localhost:"+strconv.Itoa(port)+"/ws", http.Header{"Origin": {page.URL}})
			if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
				t.Errorf("root's WebSocket to port %d: %v, %v; want 403", port, err, resp)
				continue
			}
			body, _ := io.ReadAll(resp.Body)
			if !strings.Contains(string(body), "belongs to another user of this computer") {
				t.Errorf("root's WebSocket to port %d: body %q", port, body)
			}
		}
	})

	t.Run("stopping the first user's bridge", func(t *testing.T) {
		a.bridge.stop(t)
		// The second user's page still reaches only its own engine.
		res := visit(t, b, wellKnown, x)
		if res.Status != "open" || res.Port != x+1 || res.Received != b.engine+":hello" {
			t.Errorf("%s's page after %s's bridge stopped: %+v; want its own engine on %d", b.Name, a.Name, res, x+1)
		}
		// The first user's page, scanning x and x+1 as the default ports
		// do, finds the second user's bridge on x+1 and is told it has
		// none: named, and nothing of the other's reached.
		res = visit(t, a, both, x+1)
		if res.Status == "open" || res.Reason != "no-bridge-for-user" || strings.Contains(res.Received, b.engine) {
			t.Errorf("%s's page after its bridge stopped: %+v; want reason no-bridge-for-user and nothing of %s's", a.Name, res, b.Name)
		}
		if !strings.Contains(string(res.ProbeBody), `"error":"no-bridge-for-user"`) || res.ProbeStatus != http.StatusForbidden {
			t.Errorf("%s's probe of %s's bridge: %d %s; want 403 no-bridge-for-user", a.Name, b.Name, res.ProbeStatus, res.ProbeBody)
		}
	})
}

// openBrowserAs starts Chromium as u (runuser, through a wrapper that
// hands u the profile folder), trusting only u's CA, with the page's
// origin public and granted Local Network Access.
func openBrowserAs(t *testing.T, u osUser, page *httptest.Server) *browser {
	t.Helper()
	wrapper := filepath.Join(u.Home, "chromium-as-user")
	script := fmt.Sprintf(`#!/bin/sh
# chromedp runs this as root: the profile it made must be the user's.
for a; do case "$a" in --user-data-dir=*) chown -R %[1]s "${a#--user-data-dir=}";; esac; done
exec runuser -u %[1]s -- %[2]s "$@"
`, u.Name, chromiumPath)
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	host := strings.TrimPrefix(page.URL, "http://")
	br := openBrowser(t, u.Home, chromedp.ExecPath(wrapper), chromedp.Flag("ip-address-space-overrides", host+"=public"))
	setLoopbackPermission(t, br, page.URL, cdpbrowser.PermissionSettingGranted)
	return br
}
