package tray

import (
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"orionbridge/bridge"
)

func logEvent(level slog.Level, msg string, attrs ...string) bridge.Event {
	e := entry(level, msg, attrs...)
	e.Time = time.Now()
	return bridge.Event{Kind: bridge.LogRecord, Time: e.Time, Log: e}
}

func TestLogViewFiltersByLevelAndText(t *testing.T) {
	ctrl := newFakeController()
	h := newHarness(t, ctrl)
	h.dash.show(tabLog)
	w := h.dash.window
	ctrl.publish(logEvent(slog.LevelInfo, "session opened", "origin", "https://editor.example.com"))
	ctrl.publish(logEvent(slog.LevelWarn, "request refused", "status", "403", "origin", "https://evil.example"))
	ctrl.publish(logEvent(slog.LevelError, "listener failed", "addr", "127.0.0.1:21443"))
	all := []string{"session opened", "request refused", "listener failed"}
	h.eventually(t, "every record shows", func() bool {
		return !slices.ContainsFunc(all, func(m string) bool { return !shows(w, m) })
	})
	if !shows(w, "origin=https://evil.example") {
		t.Error("a record's fields are not shown")
	}

	check := func(step string, want ...string) {
		t.Helper()
		h.q.drain()
		h.refreshUI()
		for _, m := range all {
			if got := shows(w, m); got != slices.Contains(want, m) {
				t.Errorf("%s: %q shown = %v", step, m, got)
			}
		}
	}
	h.dash.log.level.SetSelected("Warnings and errors")
	check("warnings and errors", "request refused", "listener failed")
	test.Type(h.dash.log.search, "EVIL")
	check("warnings mentioning evil", "request refused")
	h.dash.log.level.SetSelected("Errors only")
	check("errors mentioning evil")
	h.dash.log.search.SetText("")
	check("errors", "listener failed")
	h.dash.log.level.SetSelected("All levels")
	check("everything again", all...)

	// Paused, the view holds still and counts what it is not showing.
	test.Tap(findButton(t, w.Content(), "Pause"))
	ctrl.publish(logEvent(slog.LevelInfo, "bridge stopped"))
	h.eventually(t, "the paused view counts the new record", func() bool { return shows(w, "Paused · 1 new records not shown") })
	if shows(w, "bridge stopped") {
		t.Error("a paused view shows new records")
	}
	test.Tap(findButton(t, w.Content(), "Resume"))
	h.eventually(t, "the resumed view shows the new record", func() bool { return shows(w, "bridge stopped") })

	// Copy: the selected record, or every record shown.
	h.dash.log.list.Select(1)
	test.Tap(findButton(t, w.Content(), "Copy"))
	if got := h.app.Clipboard().Content(); !strings.HasSuffix(got, "WARN  request refused status=403 origin=https://evil.example") || strings.Contains(got, "\n") {
		t.Errorf("copied %q, want the selected record", got)
	}
	if !shows(w, "    status = 403") {
		t.Error("the selected record's details are not shown")
	}
	h.dash.log.list.UnselectAll()
	test.Tap(findButton(t, w.Content(), "Copy"))
	if got := strings.Count(h.app.Clipboard().Content(), "\n"); got != 4 {
		t.Errorf("copied %d lines with nothing selected, want the 4 shown", got)
	}
}

func TestLogViewStaysBounded(t *testing.T) {
	ctrl := newFakeController()
	h := newHarness(t, ctrl)
	for i := range logCapacity + 100 {
		h.logs.Add(entry(slog.LevelInfo, "line", "n", formatCount(int64(i))))
	}
	h.dash.log.refresh()
	if n := len(h.dash.log.lines); n != logCapacity {
		t.Errorf("the view holds %d lines, want %d", n, logCapacity)
	}
}

func TestSitesTab(t *testing.T) {
	ctrl := newFakeController()
	ctrl.cfg.AllowedOrigins = []string{"https://editor.example.com"}
	ctrl.cfg.DeniedOrigins = []string{"https://spam.example"}
	h := newHarness(t, ctrl)
	h.dash.show(tabSites)
	w := h.dash.window
	h.eventually(t, "both lists show", func() bool {
		return shows(w, "https://editor.example.com") && shows(w, "https://spam.example")
	})

	sites := h.dash.sites
	sites.input.SetText("https://example.com/editor")
	test.Tap(findButton(t, w.Content(), "Allow"))
	if !shows(w, "expected scheme://host[:port] with nothing after it") {
		t.Error("an invalid origin shows no error")
	}
	sites.input.SetText("https://Reports.Example.com")
	test.Tap(findButton(t, w.Content(), "Allow"))
	h.eventually(t, "the new origin is saved and shown", func() bool { return shows(w, "https://reports.example.com") })
	if got := ctrl.config().AllowedOrigins; !slices.Equal(got, []string{"https://editor.example.com", "https://reports.example.com"}) {
		t.Errorf("allowed_origins saved as %q", got)
	}

	// The denied list's Remove is the last Remove button.
	var removes []*widget.Button
	walk(w.Content(), func(o fyne.CanvasObject) {
		if b, ok := o.(*widget.Button); ok && b.Text == "Remove" {
			removes = append(removes, b)
		}
	})
	if len(removes) != 3 {
		t.Fatalf("%d Remove buttons, want 2 allowed + 1 denied", len(removes))
	}
	test.Tap(removes[2])
	h.eventually(t, "the denied origin is removed", func() bool { return !labelsUnder(sites.deniedList)["https://spam.example"] })
	if got := ctrl.config().DeniedOrigins; len(got) != 0 {
		t.Errorf("denied_origins saved as %q", got)
	}

	test.Tap(sites.ask)
	h.eventually(t, "ask_unknown_origins is saved", func() bool { return !ctrl.config().AskUnknownOrigins })
}

func TestSettingsTabShowsErrorsByTheirFields(t *testing.T) {
	ctrl := newFakeController()
	h := newHarness(t, ctrl)
	h.dash.show(tabSettings)
	w := h.dash.window
	s := h.dash.settings
	s.port.SetText("70000")
	s.pong.SetText("10s")
	test.Tap(findButton(t, w.Content(), "Save and Apply"))
	if !shows(w, "expected a port number 1-65535, got 70000") || !s.errs["port"].Visible() {
		t.Error("the port's error is not shown under it")
	}
	if len(ctrl.applied) != 0 {
		t.Error("an invalid form was applied")
	}

	s.port.SetText("21500")
	test.Tap(findButton(t, w.Content(), "Save and Apply"))
	if !shows(w, "expected more than ping_interval (30s), got 10s") || s.errs["port"].Visible() || !s.errs["pong_timeout"].Visible() {
		t.Error("after fixing the port, the pong timeout's error is not the one shown")
	}

	s.pong.SetText("2m")
	s.targets[0].SetText("127.0.0.1:9999")
	s.framings[0].SetSelected("lines")
	test.Tap(findButton(t, w.Content(), "Save and Apply"))
	h.eventually(t, "the form is applied", func() bool { return shows(w, "and applied") })
	got := ctrl.config()
	if got.Port != 21500 || got.PongTimeout != 2*time.Minute || got.Routes[0].Target != "127.0.0.1:9999" || got.Routes[0].Framing != "lines" {
		t.Errorf("applied %+v", got)
	}
}

func TestManagedKeysAreReadOnly(t *testing.T) {
	ctrl := newFakeController()
	ctrl.managed = []string{"allowed_origins", "port", "routes"}
	ctrl.cfg.AllowedOrigins = []string{"https://editor.example.com"}
	h := newHarness(t, ctrl)
	h.refreshUI()

	s := h.dash.settings
	for name, c := range map[string]struct {
		w        fyne.Disableable
		disabled bool
	}{
		"port": {s.port, true}, "route target": {s.targets[0], true}, "route framing": {s.framings[0], true},
		"max clients": {s.maxClients, false}, "pong timeout": {s.pong, false},
	} {
		if c.w.Disabled() != c.disabled {
			t.Errorf("settings: %s disabled = %v, want %v", name, c.w.Disabled(), c.disabled)
		}
	}
	h.dash.show(tabSettings)
	if !shows(h.dash.window, "Set by your IT department in the machine-wide configuration.") {
		t.Error("settings: a managed field does not say who sets it")
	}

	sites := h.dash.sites
	if !sites.input.Disabled() || !sites.add.Disabled() || sites.ask.Disabled() {
		t.Errorf("sites: input disabled %v, Allow disabled %v, ask disabled %v; want true, true, false",
			sites.input.Disabled(), sites.add.Disabled(), sites.ask.Disabled())
	}
	h.dash.show(tabSites)
	if b := findButton(t, sites.allowedList, "Remove"); !b.Disabled() {
		t.Error("sites: a managed allowed origin can be removed")
	}

	// IT stops managing the port: the form follows.
	ctrl.mu.Lock()
	ctrl.managed = []string{"allowed_origins"}
	ctrl.mu.Unlock()
	h.eventually(t, "the port becomes editable", func() bool { return !h.dash.settings.port.Disabled() })
}

// quitApp records Quit instead of ending anything.
type quitApp struct {
	fyne.App
	quit bool
}

func (a *quitApp) Quit() { a.quit = true }

func TestQuitLeavesAServiceRunning(t *testing.T) {
	for mode, wantStops := range map[string]int{"tray": 1, "headless": 0} {
		t.Run(mode, func(t *testing.T) {
			ctrl := newFakeController()
			ctrl.mode = mode
			h := newHarness(t, ctrl)
			h.refreshUI()
			quitter := &quitApp{App: h.app}
			h.app = quitter
			menuItem(t, h.desk.(*fakeTray).menu, "Quit").Action()
			h.eventually(t, "the app quits", func() bool { return quitter.quit })
			ctrl.mu.Lock()
			defer ctrl.mu.Unlock()
			if ctrl.stops != wantStops {
				t.Errorf("Quit stopped the bridge %d times, want %d", ctrl.stops, wantStops)
			}
		})
	}
}

// TestDashboardIsBuiltOnFirstUse: a tray app builds its dashboard when the
// operator first opens it (the icon or the menu), not at start; without a
// tray the dashboard is the app and is built at once.
func TestDashboardIsBuiltOnFirstUse(t *testing.T) {
	tests := []struct {
		name     string
		withTray bool
		open     func(t *testing.T, h *harness)
	}{
		{"tray icon clicked", true, func(t *testing.T, h *harness) {
			tapped := h.desk.(*fakeTray).tapped
			if tapped == nil {
				t.Fatal("no action on a click of the tray icon")
			}
			tapped() // from systray's goroutine: the app queues the work
		}},
		{"Open Dashboard in the tray menu", true, func(t *testing.T, h *harness) {
			menuItem(t, h.desk.(*fakeTray).menu, "Open Dashboard").Action()
		}},
		{"no tray", false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctrl := newFakeController()
			h := newBareHarness(t, ctrl, tt.withTray)
			h.q.drain()
			h.refreshUI()
			if tt.withTray {
				if h.dash != nil {
					t.Fatal("the dashboard was built at start, before anyone opened it")
				}
				if h.desk.(*fakeTray).menu == nil {
					t.Fatal("the tray has no menu")
				}
				tt.open(t, h)
			}
			h.q.drain()
			if h.dash == nil {
				t.Fatal("the dashboard was not built")
			}
			if !shows(h.dash.window, tabSessions) {
				t.Errorf("the dashboard does not show its tabs:\n%s", test.RenderToMarkup(h.dash.window.Canvas()))
			}
			first := h.dash
			h.dashboard().show(tabLog)
			if h.dash != first {
				t.Error("opening the dashboard again built a second one")
			}
		})
	}
}
