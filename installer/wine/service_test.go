//go:build linux

package wine

// SERVICE=1 under Wine: the MSI registers the OrionBridge service and
// starts it through Wine's service manager (services.exe), the service
// serves the Linux side, stops and starts again through `sc`, and the
// uninstall removes it.

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"orionbridge/internal/testutil"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

const serviceKey = `HKLM\System\CurrentControlSet\Services\OrionBridge`

// scState is the STATE `wine sc query OrionBridge` prints (RUNNING,
// STOPPED, …), or "" when the service does not exist.
func scState(t *testing.T, p *prefix) string {
	t.Helper()
	out, err := p.wine(waitLimit, "sc", "query", "OrionBridge")
	if err != nil {
		return ""
	}
	m := regexp.MustCompile(`STATE\s*:\s*\d+\s+(\w+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("wine sc query OrionBridge: no STATE in\n%s", out)
	}
	return m[1]
}

// waitState waits until the service manager reports want.
func waitState(t *testing.T, p *prefix, want string) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for {
		got := scState(t, p)
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("wine sc query OrionBridge: STATE %q after %v, want %s", got, waitLimit, want)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// health GETs https://localhost:port/health, verifying the bridge's CA.
func health(pool *x509.CertPool, port int) (pid int, err error) {
	client := http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	defer client.CloseIdleConnections()
	resp, err := client.Get("https://localhost:" + strconv.Itoa(port) + "/health")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var h struct {
		App, Status string
		PID         int
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if err := json.Unmarshal(body, &h); err != nil || resp.StatusCode != http.StatusOK || h.App != "Orion Bridge" || h.Status != "ok" {
		return 0, errors.New("not an Orion Bridge answer: " + resp.Status + " " + string(body))
	}
	return h.PID, nil
}

// listeningLines are the "bridge listening" lines of the bridge logs in
// the prefix: where a service that does not answer listens instead.
func listeningLines(p *prefix) string {
	logs, _ := filepath.Glob(filepath.Join(p.dir, "drive_c", "users", "*", "AppData", "Local", "OrionBridge", "logs", "*.log"))
	var lines []string
	for _, f := range logs {
		data, _ := os.ReadFile(f)
		for line := range strings.SplitSeq(string(data), "\n") {
			if strings.Contains(line, "bridge listening") {
				lines = append(lines, f+": "+line)
			}
		}
	}
	return strings.Join(lines, "\n")
}

// TestMSIService installs the MSI with SERVICE=1 and drives the service
// through Wine's service manager. Before issue 14's fix the install rolled
// back: the service process ran the bridge but never connected to the
// manager (kardianos/service took it for an interactive program, since
// Wine's services.exe is not in session 0), so `service start` failed with
// "Service request timeout".
func TestMSIService(t *testing.T) {
	_, msi := builtMSI(t)
	port := testutil.FreePort(t)
	enginePort := testutil.FreePort(t, port)
	const origin = "https://shop.example.com"

	p := newPrefix(t, "")
	// The service must outlive msiexec, the session's last ordinary program.
	p.keepSession()
	copyFile(t, msi, p.path(`C:\OrionBridge.msi`))
	p.msiexec(t, "install.log", "/i", `C:\OrionBridge.msi`, "SERVICE=1",
		"PORT="+strconv.Itoa(port), "ALLOWED_ORIGINS="+origin, "ENGINE_ADDRESS=127.0.0.1:"+strconv.Itoa(enginePort))

	t.Run("registered", func(t *testing.T) {
		for _, tc := range []struct{ name, want string }{
			{"ImagePath", `^"` + regexp.QuoteMeta(headless) + `" service run --config .+\\config\.toml$`},
			{"DisplayName", `^Orion Bridge$`},
			{"ObjectName", `^LocalSystem$`},
			{"Start", `^0x2$`}, // SERVICE_AUTO_START
			{"Type", `^0x10$`}, // SERVICE_WIN32_OWN_PROCESS
		} {
			if v, ok := p.regQuery(serviceKey, tc.name); !ok || !regexp.MustCompile(tc.want).MatchString(v) {
				t.Errorf("%s %s = %q (exists %v), want %s", serviceKey, tc.name, v, ok, tc.want)
			}
		}
	})

	ca, _ := caOf(t, p)
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	serving := func(t *testing.T) int {
		t.Helper()
		waitState(t, p, "RUNNING")
		var pid int
		var err error
		deadline := time.Now().Add(waitLimit)
		for pid, err = health(pool, port); err != nil; pid, err = health(pool, port) {
			if time.Now().After(deadline) {
				t.Fatalf("the service is RUNNING but https://localhost:%d/health (the managed config's port) does not answer: %v\n"+
					"where the bridge said it listens (the default port means it missed the managed config: Wine gives services "+
					"ProgramData=C:\\users\\Public, see README, Testing Windows on Linux):\n%s", port, err, listeningLines(p))
			}
			time.Sleep(250 * time.Millisecond)
		}
		return pid
	}

	t.Run("started by the install, serves Linux", func(t *testing.T) {
		pid := serving(t)
		engine := p.start("demo engine", headless, "demo-engine", "--listen", "127.0.0.1:"+strconv.Itoa(enginePort))
		engine.waitForOutput(t, "demo engine listening", waitLimit)
		defer engine.stop()
		echoThrough(t, pool, port, origin)
		out, err := p.wine(waitLimit, headless, "service", "status")
		if want := "running (pid " + strconv.Itoa(pid) + ", wss://localhost:" + strconv.Itoa(port) + ")"; err != nil || strings.TrimSpace(out) != want {
			t.Errorf("orionbridge-headless.exe service status: %v, printed %q; want %q", err, out, want)
		}
	})

	t.Run("sc stop, sc start", func(t *testing.T) {
		if out, err := p.wine(waitLimit, "sc", "stop", "OrionBridge"); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		waitState(t, p, "STOPPED")
		if _, err := health(pool, port); err == nil {
			t.Fatalf("the service is STOPPED but https://localhost:%d/health still answers", port)
		}
		if out, err := p.wine(waitLimit, "sc", "start", "OrionBridge"); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		serving(t)
	})

	p.msiexec(t, "uninstall.log", "/x", `C:\OrionBridge.msi`)
	t.Run("uninstalled", func(t *testing.T) {
		if p.regKeyExists(serviceKey) {
			t.Errorf("%s left", serviceKey)
		}
		if st := scState(t, p); st != "" {
			t.Errorf("wine sc query OrionBridge: STATE %s; want no such service", st)
		}
		if _, err := health(pool, port); err == nil {
			t.Errorf("https://localhost:%d/health still answers after the uninstall", port)
		}
	})
}
