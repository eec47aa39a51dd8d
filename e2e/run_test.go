//go:build linux

package e2e

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"orionbridge/internal/testutil"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestRunRelaysAndStopsOnSIGTERM drives the real binary: the demo engine and
// `orionbridge run` as separate processes, a WebSocket through both, then
// SIGTERM: the session gets 1001 and the bridge exits 0.
func TestRunRelaysAndStopsOnSIGTERM(t *testing.T) {
	home := t.TempDir()
	port := testutil.FreePort(t)
	enginePort := testutil.FreePort(t, port)
	config := filepath.Join(home, "orionbridge.toml")
	if err := os.WriteFile(config, []byte(fmt.Sprintf(`port = %d
fallback_ports = []
data_dir = %q
allowed_origins = ["https://editor.example.com"]
[[routes]]
path = "/ws"
target = "127.0.0.1:%d"
`, port, filepath.Join(home, "data"), enginePort)), 0o600); err != nil {
		t.Fatal(err)
	}
	engine := start(t, home, "demo-engine", "demo-engine", "--listen", "127.0.0.1:"+strconv.Itoa(enginePort))
	engine.waitForOutput(t, "demo engine listening")
	bridge := start(t, home, "bridge", "run", "--config", config, "--log-format", "json")
	bridge.waitForOutput(t, `"msg":"bridge listening"`)

	pool := testutil.CAPool(t, filepath.Join(home, "data", "certs", "ca.pem"))
	dialer := websocket.Dialer{TLSClientConfig: &tls.Config{RootCAs: pool}, HandshakeTimeout: waitLimit}
	c, _, err := dialer.Dial(fmt.Sprintf("wss://localhost:%d/ws", port), map[string][]string{"Origin": {"https://editor.example.com"}})
	if err != nil {
		t.Fatalf("dial the bridge: %v", err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(waitLimit))
	c.WriteMessage(websocket.TextMessage, []byte("through two processes"))
	if _, p, err := c.ReadMessage(); err != nil || string(p) != "through two processes" {
		t.Fatalf("echo %q, %v", p, err)
	}

	bridge.stop(t) // SIGTERM; fails the test unless the exit status is 0
	_, _, err = c.ReadMessage()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.CloseGoingAway || ce.Text != "bridge shutting down" {
		t.Fatalf("after SIGTERM the session got %v, want 1001 bridge shutting down", err)
	}
	logs := bridge.out.String()
	for _, want := range []string{`"msg":"session opened"`, `"msg":"session closed"`, `"code":1001`, `"msg":"bridge stopped"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("the bridge's log lacks %s:\n%s", want, logs)
		}
	}
}

// runBridge writes a config for a fresh HOME and starts the demo engine and
// the bridge as processes. It returns the HOME and the bridge's port.
func runBridge(t *testing.T) (home string, port int, bridge *process) {
	t.Helper()
	home = t.TempDir()
	port = testutil.FreePort(t)
	enginePort := testutil.FreePort(t, port)
	config := filepath.Join(home, "orionbridge.toml")
	if err := os.WriteFile(config, []byte(fmt.Sprintf("port = %d\nfallback_ports = []\ndata_dir = %q\n[[routes]]\npath = \"/ws\"\ntarget = \"127.0.0.1:%d\"\n",
		port, filepath.Join(home, "data"), enginePort)), 0o600); err != nil {
		t.Fatal(err)
	}
	start(t, home, "demo-engine", "demo-engine", "--listen", "127.0.0.1:"+strconv.Itoa(enginePort)).waitForOutput(t, "demo engine listening")
	bridge = start(t, home, "bridge", "run", "--config", config)
	bridge.waitForOutput(t, `msg="bridge listening"`)
	return home, port, bridge
}

// getHealth reads the bridge's /health on port into v, trusting the CA in
// home's data dir.
func getHealth(t *testing.T, home string, port int, v any) {
	t.Helper()
	client := http.Client{Timeout: waitLimit, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: testutil.CAPool(t, filepath.Join(home, "data", "certs", "ca.pem"))}}}
	defer client.CloseIdleConnections()
	resp, err := client.Get("https://localhost:" + strconv.Itoa(port) + "/health")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/health: %s", resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("/health: %v", err)
	}
}

// serial is the serial number of the leaf a new handshake gets.
func serial(t *testing.T, pool *x509.CertPool, port int) string {
	t.Helper()
	c, err := tls.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port), &tls.Config{RootCAs: pool, ServerName: "localhost"})
	if err != nil {
		t.Fatalf("handshake: %v", err)
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0].SerialNumber.String()
}

// A first run whose CA nobody trusts says so, with the fix, in the log and
// in /health.
func TestFirstRunReportsUntrustedCertificate(t *testing.T) {
	home, port, bridge := runBridge(t)
	bridge.waitForOutput(t, "run `orionbridge certs install`")
	var h struct {
		Certificate struct {
			Trusted bool   `json:"trusted"`
			CAPath  string `json:"ca_path"`
			Fix     string `json:"fix"`
		} `json:"certificate"`
	}
	getHealth(t, home, port, &h)
	if h.Certificate.Trusted || h.Certificate.Fix != "orionbridge certs install" || h.Certificate.CAPath != filepath.Join(home, "data", "certs", "ca.pem") {
		t.Fatalf("/health certificate %+v", h.Certificate)
	}
}

// `orionbridge certs renew` in another process reaches the running bridge:
// an open session stays, and new handshakes get the new leaf.
func TestCertsRenewReachesRunningBridge(t *testing.T) {
	home, port, bridge := runBridge(t)
	pool := testutil.CAPool(t, filepath.Join(home, "data", "certs", "ca.pem"))
	before := serial(t, pool, port)
	dialer := websocket.Dialer{TLSClientConfig: &tls.Config{RootCAs: pool}, HandshakeTimeout: waitLimit}
	c, _, err := dialer.Dial(fmt.Sprintf("wss://localhost:%d/ws", port), map[string][]string{"Origin": {fmt.Sprintf("https://localhost:%d", port)}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	mustOrion(t, home, "certs", "renew", "--config", filepath.Join(home, "orionbridge.toml"))
	deadline := time.Now().Add(waitLimit)
	for serial(t, pool, port) == before {
		if time.Now().After(deadline) {
			t.Fatalf("the running bridge still serves serial %s", before)
		}
		time.Sleep(100 * time.Millisecond)
	}
	bridge.waitForOutput(t, "certificate changed on disk; new connections use it")
	c.SetReadDeadline(time.Now().Add(waitLimit))
	c.WriteMessage(websocket.TextMessage, []byte("still open"))
	if _, p, err := c.ReadMessage(); err != nil || string(p) != "still open" {
		t.Fatalf("the session opened before the renewal: %q, %v", p, err)
	}
}

// A second `run` with the same config must refuse, naming the first, and
// must not start on a fallback port.
func TestSecondRunRefused(t *testing.T) {
	home, port, _ := runBridge(t)
	out, err := orion(t, home, "run", "--config", filepath.Join(home, "orionbridge.toml"))
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() == 0 {
		t.Fatalf("second run: %v\n%s", err, out)
	}
	if want := fmt.Sprintf("already running at wss://localhost:%d (pid ", port); !strings.Contains(out, want) {
		t.Fatalf("second run said:\n%s\nwant %q", out, want)
	}
}

// `orionbridge status` shows a live session, through the control API.
func TestStatusShowsLiveSession(t *testing.T) {
	home, port, _ := runBridge(t)
	config := filepath.Join(home, "orionbridge.toml")
	dialer := websocket.Dialer{TLSClientConfig: &tls.Config{RootCAs: testutil.CAPool(t, filepath.Join(home, "data", "certs", "ca.pem"))}, HandshakeTimeout: waitLimit}
	origin := fmt.Sprintf("https://localhost:%d", port)
	c, _, err := dialer.Dial(fmt.Sprintf("wss://localhost:%d/ws", port), map[string][]string{"Origin": {origin}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.WriteMessage(websocket.TextMessage, []byte("12345"))
	c.ReadMessage()

	out, err := orion(t, home, "status", "--config", config)
	if err != nil {
		t.Fatalf("status: %v\n%s", err, out)
	}
	for _, want := range []string{"running, headless", fmt.Sprintf("wss://localhost:%d", port), "Sessions:     1", origin, "engine reachable", "NOT trusted"} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
	out, err = orion(t, home, "status", "--config", config, "--json")
	if err != nil {
		t.Fatalf("status --json: %v\n%s", err, out)
	}
	var rep struct {
		Running  bool
		PID      int
		Sessions []struct {
			Origin        string `json:"origin"`
			BytesToEngine int64  `json:"bytes_to_engine"`
		}
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("status --json is not JSON: %v\n%s", err, out)
	}
	if !rep.Running || rep.PID == 0 || len(rep.Sessions) != 1 || rep.Sessions[0].Origin != origin || rep.Sessions[0].BytesToEngine != 5 {
		t.Fatalf("status --json: %+v", rep)
	}
}

// The control API refuses requests without the secret, and any request
// that comes from a web page (carries an Origin), secret or not.
func TestControlAPIRefusesPagesAndStrangers(t *testing.T) {
	home, port, _ := runBridge(t)
	secret, err := os.ReadFile(filepath.Join(home, "data", "control.secret"))
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(filepath.Join(home, "data", "control.secret")); st.Mode().Perm() != 0o600 {
		t.Errorf("control.secret has mode %v", st.Mode().Perm())
	}
	client := http.Client{Timeout: waitLimit, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: testutil.CAPool(t, filepath.Join(home, "data", "certs", "ca.pem"))}}}
	defer client.CloseIdleConnections()
	tests := []struct {
		name   string
		hdr    map[string]string
		status int
	}{
		{"no secret", nil, 401},
		{"with an Origin", map[string]string{"Authorization": "Bearer " + strings.TrimSpace(string(secret)), "Origin": "https://evil.example"}, 403},
		{"with the secret", map[string]string{"Authorization": "Bearer " + strings.TrimSpace(string(secret))}, 200},
	}
	for _, tt := range tests {
		req, _ := http.NewRequest("GET", fmt.Sprintf("https://localhost:%d/api/snapshot", port), nil)
		for k, v := range tt.hdr {
			req.Header.Set(k, v)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.status {
			t.Errorf("%s: status %d, want %d", tt.name, resp.StatusCode, tt.status)
		}
	}
}

// Commands print what they are asked for and nothing from the UI toolkit,
// whatever the locale; C.UTF-8 is the default in containers and CI.
func TestCommandsPrintNoToolkitNoise(t *testing.T) {
	for _, locale := range []string{"LANG=C.UTF-8", "LC_ALL=C.UTF-8", "LANG=C", "LANG=en_US.UTF-8"} {
		cmd := exec.Command(orionbridge(t), "version")
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), locale}
		out, err := cmd.CombinedOutput()
		if err != nil || !regexp.MustCompile(`^orionbridge \d+\.\d+\.\d+\n$`).Match(out) {
			t.Errorf("%s: `orionbridge version` printed %q (%v)", locale, out, err)
		}
	}
}

// orionbridge-headless, the build without the tray (and without cgo), runs
// the bridge when started with no command and no flags, with or without a
// display, and says why on stderr; SIGTERM stops it with status 0.
func TestHeadlessBuildWithoutCommand(t *testing.T) {
	const notice = "orionbridge: this build, orionbridge-headless, has no tray: running headless as `orionbridge run` would\n"
	tests := []struct {
		name    string
		display string // DISPLAY, or unset when ""
	}{
		{name: "without a display"},
		{name: "with a display", display: ":99"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			home := t.TempDir()
			port := testutil.FreePort(t)
			// No --config: the default file, under the temporary HOME.
			config := filepath.Join(home, ".config", "OrionBridge", "config.toml")
			if err := os.MkdirAll(filepath.Dir(config), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(config, []byte(fmt.Sprintf("port = %d\nfallback_ports = []\ndata_dir = %q\n",
				port, filepath.Join(home, "data"))), 0o600); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(headlessBuild.build(t))
			for _, kv := range homeEnv(home) {
				if k, _, _ := strings.Cut(kv, "="); k != "DISPLAY" && k != "WAYLAND_DISPLAY" {
					cmd.Env = append(cmd.Env, kv)
				}
			}
			if tt.display != "" {
				cmd.Env = append(cmd.Env, "DISPLAY="+tt.display)
			}
			cmd.Dir = home
			bridge := startCmd(t, "orionbridge-headless", cmd)
			bridge.waitForOutput(t, `msg="bridge listening"`)
			if out := bridge.out.String(); !strings.HasPrefix(out, notice) {
				t.Errorf("output does not start with %q:\n%s", notice, out)
			}

			var h struct {
				App string `json:"app"`
				PID int    `json:"pid"`
			}
			getHealth(t, home, port, &h)
			if h.App != "Orion Bridge" || h.PID != cmd.Process.Pid {
				t.Errorf("/health: app %q pid %d, want Orion Bridge pid %d", h.App, h.PID, cmd.Process.Pid)
			}

			bridge.stop(t) // SIGTERM; fails the test unless the exit status is 0
			bridge.waitForOutput(t, `msg="bridge stopped"`)
		})
	}
}
