package tray

import (
	"errors"
	"net"
	"net/http"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"
	"github.com/gorilla/websocket"

	"orionbridge/app"
	"orionbridge/app/apptest"
	"orionbridge/config"
	"orionbridge/internal/testutil"
)

const editorOrigin = "https://editor.example.com"

// The tests below drive the real in-process bridge.
var _ app.Controller = (*app.Instance)(nil)

// dial opens a session as a page on origin would, trusting the bridge's CA.
func dial(t *testing.T, in *app.Instance, origin string) *websocket.Conn {
	t.Helper()
	d := testutil.BridgeDialer(t, in.RunningConfig().DataDir)
	url := in.Bridge.Snapshot().Endpoint + "/ws" // the tests see the bridge only as a Controller
	c, resp, err := d.Dial(url, http.Header{"Origin": {origin}})
	if err != nil {
		t.Fatalf("dial %s: %v (response %v)", url, err, resp)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.WriteMessage(websocket.TextMessage, []byte("render report 42")); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, msg, err := c.ReadMessage(); err != nil || string(msg) != "render report 42" {
		t.Fatalf("echo: %q, %v", msg, err)
	}
	return c
}

// closeCode reads from c until the bridge closes it, and returns the code
// and reason.
func closeCode(t *testing.T, c *websocket.Conn) (int, string) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		if _, _, err := c.ReadMessage(); err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				return ce.Code, ce.Text
			}
			t.Fatalf("read: %v, want a close frame", err)
		}
	}
}

// forEachController runs a test against both views of a real bridge the
// tray can have: in this process, and through the control API, as when it
// attaches to a bridge running as a service. in is the bridge itself.
func forEachController(t *testing.T, run func(t *testing.T, in *app.Instance, ctrl app.Controller)) {
	t.Run("in-process", func(t *testing.T) {
		in := apptest.StartInstance(t, func(c *config.Config) { c.AllowedOrigins = []string{editorOrigin} })
		run(t, in, in)
	})
	t.Run("remote", func(t *testing.T) {
		in := apptest.StartInstance(t, func(c *config.Config) { c.AllowedOrigins = []string{editorOrigin} })
		r, err := app.Attach(in.RunningConfig(), in.Bridge.Port())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(r.Close)
		run(t, in, r)
	})
}

func TestSessionsTableShowsRealSessions(t *testing.T) {
	forEachController(t, testSessionsTableShowsRealSessions)
}

func testSessionsTableShowsRealSessions(t *testing.T, in *app.Instance, ctrl app.Controller) {
	h := newHarness(t, ctrl)
	h.dash.show(tabSessions)
	w := h.dash.window

	h.eventually(t, "the empty table explains where pages connect", func() bool {
		return shows(w, "No sessions. Pages connect to "+in.Bridge.Snapshot().Endpoint+"/ws")
	})
	c := dial(t, in, editorOrigin)
	h.eventually(t, "the session shows", func() bool {
		return shows(w, editorOrigin) && shows(w, "open") && shows(w, "/ws → "+in.RunningConfig().Routes[0].Target) &&
			shows(w, "16 B ↑  16 B ↓") && shows(w, "1 ↑  1 ↓")
	})
	for _, header := range sessionColumns() {
		if !shows(w, header) {
			t.Errorf("the table has no %q column", header)
		}
	}
	if !shows(w, "Since start: 1 session") {
		t.Error("the totals footer is missing")
	}

	c.Close()
	h.eventually(t, "the closed session disappears", func() bool { return !shows(w, editorOrigin) })
}

func TestDisconnectFromTheSessionsTable(t *testing.T) {
	forEachController(t, testDisconnectFromTheSessionsTable)
}

func testDisconnectFromTheSessionsTable(t *testing.T, in *app.Instance, ctrl app.Controller) {
	h := newHarness(t, ctrl)
	h.dash.show(tabSessions)
	w := h.dash.window
	first := dial(t, in, editorOrigin)
	second := dial(t, in, editorOrigin)
	h.eventually(t, "both sessions show", func() bool { return len(h.dash.sessions.rows) == 2 })

	disconnect := findButton(t, w.Content(), "Disconnect")
	if !disconnect.Disabled() {
		t.Error("Disconnect is enabled with no session selected")
	}
	h.dash.sessions.table.Select(widget.TableCellID{Row: 1, Col: 3})
	if disconnect.Disabled() {
		t.Fatal("Disconnect is disabled with a session selected")
	}
	test.Tap(disconnect)
	if code, reason := closeCode(t, second); code != websocket.CloseNormalClosure || reason != "closed by operator" {
		t.Errorf("the selected session closed with %d %q, want 1000 \"closed by operator\"", code, reason)
	}
	h.eventually(t, "one session is left, and nothing is selected", func() bool {
		return len(h.dash.sessions.rows) == 1 && h.dash.sessions.selected == "" && disconnect.Disabled()
	})
	first.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if _, _, err := first.ReadMessage(); !isTimeout(err) {
		t.Errorf("the other session was touched: %v", err)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func TestTrayStopAndStartBridge(t *testing.T) {
	in := apptest.StartInstance(t, func(c *config.Config) { c.AllowedOrigins = []string{editorOrigin} })
	h := newHarness(t, in)
	tray := h.desk.(*fakeTray)
	c := dial(t, in, editorOrigin)
	// The test CA is in no trust store, so the bridge runs with a warning.
	h.eventually(t, "the tray shows the session and the untrusted certificate", func() bool {
		return tray.menu != nil && tray.menu.Items[0].Label == "Warning: certificate not trusted · "+in.Bridge.Snapshot().Endpoint+" · 1 session" &&
			tray.icon == h.icons[iconWarning]
	})
	if !tray.menu.Items[0].Disabled {
		t.Error("the status line is clickable")
	}

	menuItem(t, tray.menu, "Copy Endpoint URL").Action()
	if got, want := h.app.Clipboard().Content(), in.Bridge.Snapshot().Endpoint+"/ws"; got != want {
		t.Errorf("copied %q, want %q", got, want)
	}

	menuItem(t, tray.menu, "Stop Bridge").Action()
	if code, reason := closeCode(t, c); code != websocket.CloseGoingAway || reason != "bridge shutting down" {
		t.Errorf("Stop Bridge closed the session with %d %q, want 1001", code, reason)
	}
	h.eventually(t, "the tray shows the bridge stopped", func() bool {
		return tray.menu.Items[0].Label == "Stopped" && tray.icon == h.icons[iconStopped]
	})
	if !menuItem(t, tray.menu, "Open Diagnostics Page").Disabled {
		t.Error("the diagnostics page can be opened while stopped")
	}

	menuItem(t, tray.menu, "Start Bridge").Action()
	h.eventually(t, "the tray shows the bridge running again", func() bool {
		return tray.menu.Items[0].Label == "Warning: certificate not trusted · "+in.Bridge.Snapshot().Endpoint+" · 0 sessions" &&
			tray.icon == h.icons[iconWarning]
	})
	dial(t, in, editorOrigin)
}
