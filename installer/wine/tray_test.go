//go:build linux

package wine

// The tray app, orionbridge.exe (Fyne, GLFW, OpenGL), under Wine: with no
// window system it must run the bridge headless instead of crashing, and
// with one (Xvfb, Mesa's software OpenGL through Wine's GLX) it starts. And
// the two Run values of start at login (the MSI's HKLM one and a user's
// own HKCU one) against the registry the MSI wrote.

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"orionbridge/internal/testutil"
)

var toolXvfb = tool{Name: "Xvfb", Deb: "xvfb"}

const (
	trayExe     = installDir + `\orionbridge.exe`
	userRunKey  = `HKCU\Software\Microsoft\Windows\CurrentVersion\Run`
	approvedKey = `HKCU\Software\Microsoft\Windows\CurrentVersion\Explorer\StartupApproved\Run`
	// fallbackLine is what the tray app logs when its UI cannot start.
	fallbackLine = "the tray could not start: running headless"
)

// xvfb starts an X server for the test and returns its display (":N").
// -displayfd picks a free display number and writes it to the pipe.
func xvfb(t *testing.T) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	cmd := exec.Command("Xvfb", "-displayfd", "3", "-screen", "0", "1280x800x24", "-nolisten", "tcp")
	cmd.ExtraFiles = []*os.File{w}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start Xvfb: %v", err)
	}
	w.Close()
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line := make(chan string, 1)
	go func() { s, _ := bufio.NewReader(r).ReadString('\n'); line <- s }()
	select {
	case s := <-line:
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			t.Fatalf("Xvfb -displayfd wrote %q", s)
		}
		return ":" + strconv.Itoa(n)
	case <-time.After(waitLimit):
		t.Fatal("Xvfb did not report its display")
	}
	return ""
}

// healthFrom is GET https://localhost:port/health from the Linux side.
func healthFrom(pool *x509.CertPool, port int) (string, error) {
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	defer client.CloseIdleConnections()
	resp, err := client.Get(fmt.Sprintf("https://localhost:%d/health", port))
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return string(body), fmt.Errorf("/health: %s", resp.Status)
	}
	return string(body), err
}

// trayLog is the installed user's log file.
func trayLog(p *prefix) string {
	m, _ := filepath.Glob(filepath.Join(p.dir, "drive_c", "users", "*", "AppData", "Local", "OrionBridge", "logs", "orionbridge.log"))
	if len(m) == 0 {
		return ""
	}
	data, _ := os.ReadFile(m[0])
	return string(data)
}

// TestTrayUnderWine: before issue 14's fix, "no window system" crashed:
// `PlatformError: Win32: Failed to create helper window: Resource type not
// found`, then `panic: NotInitialized: The GLFW library is not
// initialized` in glfw.CreateStandardCursor, and the bridge died with it.
// (The "Resource type not found" is a stale GetLastError from GLFW's
// LoadImage of its optional GLFW_ICON resource; the real failure is
// CreateWindowEx without a display.)
func TestTrayUnderWine(t *testing.T) {
	_, msi := builtMSI(t)
	setup(t, toolXvfb)
	port := testutil.FreePort(t)
	p := newPrefix(t, "")
	copyFile(t, msi, p.path(`C:\OrionBridge.msi`))
	p.msiexec(t, "install.log", "/i", `C:\OrionBridge.msi`, "PORT="+strconv.Itoa(port))
	p.allowLinuxClients(t)
	ca, _ := caOf(t, p)
	pool := x509.NewCertPool()
	pool.AddCert(ca)

	t.Run("no window system: the bridge runs headless", func(t *testing.T) {
		tray := p.startEnv("tray without a display", []string{"DISPLAY="}, trayExe, "--dashboard")
		tray.waitForOutput(t, fallbackLine, waitLimit)
		// It keeps serving, to the Linux side, after the fallback.
		for i := range 3 {
			if body, err := healthFrom(pool, port); err != nil || !strings.Contains(body, `"status":"ok"`) {
				t.Fatalf("/health %d after the fallback: %v %s\n%s", i, err, body, tray.out)
			}
			time.Sleep(time.Second)
		}
		select {
		case <-tray.done:
			t.Fatalf("the tray app ended (%v):\n%s", tray.err, tray.out)
		default:
		}
		if strings.Contains(tray.out.String(), "panic:") {
			t.Errorf("a panic was printed:\n%s", tray.out)
		}
		if !strings.Contains(trayLog(p), fallbackLine) {
			t.Errorf("the log file does not name the fallback:\n%s", trayLog(p))
		}
		if out, err := p.wine(waitLimit, headless, "status"); err != nil || !strings.Contains(out, "headless") {
			t.Errorf("status: %v\n%s", err, out)
		}
		// A second start at sign-in (the two Run values) finds it and quits.
		out, err := p.wine(waitLimit, trayExe, "--at-login")
		if err != nil || !strings.Contains(out, "this start at sign-in quits") {
			t.Errorf("second start at sign-in: %v\n%s", err, out)
		}
		if _, err := healthFrom(pool, port); err != nil {
			t.Errorf("the second start stopped the first: %v", err)
		}
		tray.stop()
	})

	t.Run("start at login: one tray, and a per-user off", func(t *testing.T) {
		status := func(args ...string) string {
			t.Helper()
			out, err := p.wine(waitLimit, append([]string{headless, "autostart"}, args...)...)
			if err != nil {
				t.Fatalf("autostart %s: %v\n%s", strings.Join(args, " "), err, out)
			}
			return strings.TrimSpace(out)
		}
		const machineWide = `on (machine-wide, from the installer: HKLM\Software\Microsoft\Windows\CurrentVersion\Run\Orion Bridge)`
		if got := status("status"); got != machineWide {
			t.Errorf("status with the MSI's value: %q, want %q", got, machineWide)
		}
		// A user's own value from before the install: on removes it, or
		// both would start a tray at sign-in.
		p.mustWine(waitLimit, "reg", "add", userRunKey, "/v", "Orion Bridge", "/d", `"`+trayExe+`" --at-login`, "/f")
		if got := status("on"); got != machineWide {
			t.Errorf("on: %q, want %q", got, machineWide)
		}
		if v, ok := p.regQuery(userRunKey, "Orion Bridge"); ok {
			t.Errorf("on left the user's Run value %q beside the installer's: two trays at sign-in", v)
		}
		// Off: the installer's value stays (a user cannot delete it), and
		// the per-user record says off.
		if got := status("off"); !strings.HasPrefix(got, "off (turned off for this user") {
			t.Errorf("off: %q", got)
		}
		// `reg query` prints REG_BINARY data as hex: 03000000 then a FILETIME.
		if v, ok := p.regQuery(approvedKey, "Orion Bridge"); !ok || !strings.HasPrefix(v, "03000000") || len(v) != 24 {
			t.Errorf("StartupApproved\\Run \"Orion Bridge\" = %q (exists %v), want 12 bytes starting 03 00 00 00", v, ok)
		}
		if _, ok := p.regQuery(runKey, "Orion Bridge"); !ok {
			t.Error("off deleted the installer's HKLM Run value")
		}
		// The tray started at sign-in honours it.
		out, err := p.wine(waitLimit, trayExe, "--at-login")
		if err != nil || !strings.Contains(out, "start at login is off for this user") {
			t.Errorf("start at sign-in after off: %v\n%s", err, out)
		}
		if _, err := healthFrom(pool, port); err == nil {
			t.Error("a bridge serves after a start at sign-in that was turned off")
		}
		if got := status("on"); got != machineWide {
			t.Errorf("on again: %q, want %q", got, machineWide)
		}
		if v, ok := p.regQuery(approvedKey, "Orion Bridge"); ok {
			t.Errorf("on left the off record %q", v)
		}
	})

	t.Run("Xvfb: the tray starts", func(t *testing.T) {
		display := xvfb(t)
		// Wine 8 picks the display driver per desktop: explorer.exe, which
		// the session's first GUI program starts, chooses it from its own
		// DISPLAY, and every later program of the session uses that
		// desktop. A session begun without DISPLAY (a bridge or msiexec
		// started headless, as above) has the null driver: the tray then
		// fails with DISPLAY set too. So wait for that session to end.
		p.mustWineserver(waitLimit, "-w")
		tray := p.startEnv("tray on Xvfb", []string{"DISPLAY=" + display}, trayExe, "--dashboard")
		tray.waitForOutput(t, "bridge listening", waitLimit)
		testutil.WaitFor(t, "the tray app's status", func() bool {
			out, _ := p.wine(waitLimit, headless, "status")
			return strings.Contains(out, "tray app")
		})
		time.Sleep(3 * time.Second) // the dashboard window is up by now
		if strings.Contains(tray.out.String(), fallbackLine) || strings.Contains(tray.out.String(), "panic:") {
			t.Errorf("the tray did not start on Xvfb:\n%s", tray.out)
		}
		if _, err := healthFrom(pool, port); err != nil {
			t.Errorf("/health: %v", err)
		}
	})
}
