//go:build unix

package cli

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"orionbridge/app"
	"orionbridge/internal/testutil"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// guiFailure stands in for tray.GUIError: what tray.Run returns when the
// window system fails (it recovers the driver's panic and leaves the
// bridge running).
type guiFailure struct{}

func (guiFailure) Error() string        { return "the tray's window system failed: NotInitialized" }
func (guiFailure) GUIUnavailable() bool { return true }

// healthOf is GET https://localhost:port/health as a client that trusts
// the bridge's CA sees it.
func healthOf(t *testing.T, dataDir string, port int) (map[string]any, error) {
	t.Helper()
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: testutil.CAPool(t, filepath.Join(dataDir, "certs", "ca.pem"))}}}
	defer client.CloseIdleConnections()
	resp, err := client.Get(fmt.Sprintf("https://localhost:%d/health", port))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var h map[string]any
	return h, json.NewDecoder(resp.Body).Decode(&h)
}

// The tray app whose UI cannot start (tray.Run returns a GUIError, as on
// a machine without a usable OpenGL driver) runs the bridge headless until
// quit, says so, and is found by a second start: one at sign-in quits
// quietly, one by hand attaches. SIGTERM ends it cleanly. Before issue 14
// the tray app stopped the bridge and exited 1 (and on Windows, before
// tray.Run recovered, the driver's panic crashed it).
func TestTrayFallsBackToHeadlessWhenTheUICannotStart(t *testing.T) {
	testutil.SetHome(t)
	t.Setenv("DISPLAY", ":99")
	dataDir := t.TempDir()
	port := testutil.FreePort(t)
	cfgPath := testutil.TempFile(t, "c.toml", fmt.Sprintf("port = %d\nfallback_ports = []\ndata_dir = %q\n", port, dataDir))

	var stderr testutil.LockedBuffer
	code := make(chan int, 1)
	go func() {
		code <- Main(testMetadata, []string{"--config", cfgPath}, &bytes.Buffer{}, &stderr,
			func(app.Controller, app.UIOptions) error { return fmt.Errorf("tray: %w", guiFailure{}) })
	}()
	testutil.WaitFor(t, "the fallback's log line", func() bool {
		select {
		case c := <-code:
			t.Fatalf("the tray app exited (%d) when its UI could not start:\n%s", c, stderr.String())
		default:
		}
		return strings.Contains(stderr.String(), "the tray could not start: running headless")
	})
	h, err := healthOf(t, dataDir, port)
	if err != nil || h["status"] != "ok" {
		t.Fatalf("/health after the fallback: %v %v\n%s", h, err, stderr.String())
	}

	// A second start at sign-in (the HKLM and HKCU Run values both) quits
	// quietly; one by hand attaches to the headless bridge.
	var out, errb bytes.Buffer
	noUI := func(app.Controller, app.UIOptions) error {
		t.Error("a UI opened at the second start at sign-in")
		return nil
	}
	if c := Main(testMetadata, []string{"--config", cfgPath, "--at-login"}, &out, &errb, noUI); c != exitOK || !strings.Contains(errb.String(), "this start at sign-in quits") {
		t.Errorf("second start at sign-in: exit %d\n%s", c, errb.String())
	}
	errb.Reset()
	var attached string
	if c := Main(testMetadata, []string{"--config", cfgPath}, &out, &errb, func(ctrl app.Controller, _ app.UIOptions) error {
		attached = ctrl.Info().Mode
		return nil
	}); c != exitOK || attached != "headless" {
		t.Errorf("second start by hand: exit %d, attached to mode %q\n%s", c, attached, errb.String())
	}
	if _, err := healthOf(t, dataDir, port); err != nil {
		t.Fatalf("the second starts stopped the first: %v", err)
	}

	// Quit: SIGTERM, which signal.NotifyContext in run holds for it.
	if err := syscall.Kill(syscall.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case c := <-code:
		if c != exitOK {
			t.Fatalf("exit %d after SIGTERM\n%s", c, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the headless fallback did not end on SIGTERM")
	}
	if _, err := healthOf(t, dataDir, port); err == nil {
		t.Error("still serving after it ended")
	}
}

func TestLoginStartRefused(t *testing.T) {
	tests := []struct {
		name  string
		on    bool
		err   error
		quits bool
	}{
		{name: "on", on: true},
		{name: "off for this user", quits: true},
		{name: "unreadable: start rather than miss a bridge", err: errors.New("access denied")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			quit, why := loginStartRefused(func() (bool, string, error) { return tt.on, "", tt.err })
			if quit != tt.quits || (quit && !strings.Contains(why, "autostart on")) {
				t.Errorf("loginStartRefused = %v, %q", quit, why)
			}
		})
	}
}
