package tray

import (
	"bytes"
	"errors"
	"image/png"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"

	"orionbridge/app"
	"orionbridge/bridge"
	"orionbridge/certs"
	"orionbridge/config"
)

func TestFormatDuration(t *testing.T) {
	for name, c := range map[string]struct {
		in   time.Duration
		want string
	}{
		"zero":               {0, "0s"},
		"negative clock":     {-time.Second, "0s"},
		"seconds":            {45*time.Second + 900*time.Millisecond, "45s"},
		"minute pads":        {65 * time.Second, "1m05s"},
		"just under an hour": {59*time.Minute + 59*time.Second, "59m59s"},
		"hours":              {2*time.Hour + 3*time.Minute + 4*time.Second, "2h03m"},
		"days":               {50 * time.Hour, "2d02h"},
	} {
		t.Run(name, func(t *testing.T) {
			if got := formatDuration(c.in); got != c.want {
				t.Errorf("formatDuration(%v) = %q, want %q", c.in, got, c.want)
			}
		})
	}
}

func TestFormatBytes(t *testing.T) {
	for name, c := range map[string]struct {
		in   int64
		want string
	}{
		"zero":             {0, "0 B"},
		"bytes":            {1023, "1023 B"},
		"one KiB":          {1024, "1.0 KiB"},
		"mebibytes":        {1258291, "1.2 MiB"},
		"no decimal ≥ 10":  {118 << 20, "118 MiB"},
		"gibibytes":        {3 << 30, "3.0 GiB"},
		"just under a GiB": {1023 << 20, "1023 MiB"},
		"negative is zero": {-5, "0 B"},
	} {
		t.Run(name, func(t *testing.T) {
			if got := formatBytes(c.in); got != c.want {
				t.Errorf("formatBytes(%d) = %q, want %q", c.in, got, c.want)
			}
		})
	}
}

func TestFormatCount(t *testing.T) {
	for in, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 1234567: "1,234,567", -12345: "-12,345"} {
		if got := formatCount(in); got != want {
			t.Errorf("formatCount(%d) = %q, want %q", in, got, want)
		}
	}
}

func TestFormatStarted(t *testing.T) {
	now := time.Date(2025, 11, 21, 13, 0, 0, 0, time.Local)
	for name, c := range map[string]struct {
		in   time.Time
		want string
	}{
		"today":     {now.Add(-time.Hour - 5*time.Second), "11:59:55"},
		"yesterday": {now.Add(-24 * time.Hour), "Nov 20 13:00"},
		"unknown":   {time.Time{}, ""},
	} {
		t.Run(name, func(t *testing.T) {
			if got := formatStarted(c.in, now); got != c.want {
				t.Errorf("got %q, want %q", got, c.want)
			}
		})
	}
}

func TestSessionRows(t *testing.T) {
	now := time.Date(2025, 11, 21, 13, 0, 0, 0, time.Local)
	rows := sessionRows([]bridge.SessionInfo{{
		ID: "7", Origin: "https://shop.example.com", ClientAddr: "127.0.0.1:50000", Route: "/ws", Target: "127.0.0.1:21400",
		State: bridge.StateOpen, Started: now.Add(-65 * time.Second), Duration: 65 * time.Second,
		BytesToEngine: 1258291, BytesToBrowser: 300, MessagesToEngine: 1200, MessagesToBrowser: 3,
	}, {ID: "8", State: bridge.StateConnecting}}, now)
	want := [sessionColumnCount]string{"https://shop.example.com", "127.0.0.1:50000", "/ws → 127.0.0.1:21400", "open",
		"12:58:55", "1m05s", "1.2 MiB ↑  300 B ↓", "1,200 ↑  3 ↓"}
	if len(rows) != 2 || rows[0].ID != "7" || rows[0].Cells != want {
		t.Fatalf("rows[0] = %+v\nwant cells %q", rows, want)
	}
	if rows[1].Cells[0] != "(none)" {
		t.Errorf("a session without Origin shows %q", rows[1].Cells[0])
	}
	if rowIndex(rows, "8") != 1 || rowIndex(rows, "9") != -1 {
		t.Error("rowIndex does not find sessions by id")
	}
}

func TestTotalsLine(t *testing.T) {
	got := totalsLine(bridge.Totals{Sessions: 1, BytesToEngine: 2048, BytesToBrowser: 10, MessagesToEngine: 1500, MessagesToBrowser: 2}, 2)
	want := "Since start: 3 sessions · bytes 2.0 KiB ↑  10 B ↓ · messages 1,500 ↑  2 ↓"
	if got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}

func entry(level slog.Level, msg string, attrs ...string) bridge.LogEntry {
	e := bridge.LogEntry{Time: time.Date(2025, 11, 21, 13, 4, 5, 123e6, time.UTC), Level: level, Message: msg}
	for i := 0; i+1 < len(attrs); i += 2 {
		e.Attrs = append(e.Attrs, bridge.LogAttr{Key: attrs[i], Value: attrs[i+1]})
	}
	return e
}

func messages(es []bridge.LogEntry) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.Message
	}
	return out
}

func TestLogRingKeepsTheNewest(t *testing.T) {
	r := newLogRing(3)
	for _, m := range []string{"a", "b", "c", "d", "e"} {
		r.Add(entry(slog.LevelInfo, m))
	}
	if got := messages(r.Filter(logFilter{MinLevel: slog.LevelDebug})); !slices.Equal(got, []string{"c", "d", "e"}) {
		t.Errorf("ring holds %q, want the newest three in order", got)
	}
	if r.Len() != 3 || r.Added() != 5 {
		t.Errorf("Len %d Added %d, want 3 and 5", r.Len(), r.Added())
	}
}

func TestLogRingStaysBounded(t *testing.T) {
	r := newLogRing(logCapacity)
	for i := range 3 * logCapacity {
		r.Add(entry(slog.LevelInfo, "line", "i", string(rune('a'+i%26))))
	}
	if r.Len() != logCapacity || cap(r.buf) != logCapacity {
		t.Errorf("after %d records the ring holds %d (cap %d), want %d", 3*logCapacity, r.Len(), cap(r.buf), logCapacity)
	}
}

func TestLogFilter(t *testing.T) {
	r := newLogRing(10)
	r.Add(entry(slog.LevelDebug, "TLS handshake failed"))
	r.Add(entry(slog.LevelInfo, "session opened", "origin", "https://shop.example.com"))
	r.Add(entry(slog.LevelWarn, "request refused", "status", "403"))
	r.Add(entry(slog.LevelError, "listener failed", "addr", "127.0.0.1:21443"))
	for name, c := range map[string]struct {
		f    logFilter
		want []string
	}{
		"everything":            {logFilter{MinLevel: slog.LevelDebug}, []string{"TLS handshake failed", "session opened", "request refused", "listener failed"}},
		"info and above":        {logFilter{MinLevel: slog.LevelInfo}, []string{"session opened", "request refused", "listener failed"}},
		"warnings":              {logFilter{MinLevel: slog.LevelWarn}, []string{"request refused", "listener failed"}},
		"errors":                {logFilter{MinLevel: slog.LevelError}, []string{"listener failed"}},
		"message, any case":     {logFilter{MinLevel: slog.LevelDebug, Text: "REFUSED"}, []string{"request refused"}},
		"field value":           {logFilter{MinLevel: slog.LevelDebug, Text: "shop.example"}, []string{"session opened"}},
		"field key":             {logFilter{MinLevel: slog.LevelDebug, Text: "addr"}, []string{"listener failed"}},
		"level name":            {logFilter{MinLevel: slog.LevelDebug, Text: "warn"}, []string{"request refused"}},
		"text and level":        {logFilter{MinLevel: slog.LevelWarn, Text: "session"}, nil},
		"blank text is no text": {logFilter{MinLevel: slog.LevelError, Text: "  "}, []string{"listener failed"}},
	} {
		t.Run(name, func(t *testing.T) {
			if got := messages(r.Filter(c.f)); !slices.Equal(got, c.want) && !(len(got) == 0 && len(c.want) == 0) {
				t.Errorf("got %q, want %q", got, c.want)
			}
		})
	}
}

func TestFormatLogLine(t *testing.T) {
	for name, c := range map[string]struct {
		e    bridge.LogEntry
		want string
	}{
		"no fields":     {entry(slog.LevelInfo, "bridge stopped"), "2025-11-21 13:04:05.123 INFO  bridge stopped"},
		"plain fields":  {entry(slog.LevelWarn, "request refused", "status", "403", "path", "/ws"), "2025-11-21 13:04:05.123 WARN  request refused status=403 path=/ws"},
		"quoted values": {entry(slog.LevelError, "failed", "err", "connection refused", "empty", ""), `2025-11-21 13:04:05.123 ERROR failed err="connection refused" empty=""`},
	} {
		t.Run(name, func(t *testing.T) {
			if got := formatLogLine(c.e); got != c.want {
				t.Errorf("got  %q\nwant %q", got, c.want)
			}
		})
	}
}

func TestLogText(t *testing.T) {
	got := logText([]bridge.LogEntry{entry(slog.LevelInfo, "bridge listening", "endpoint", "wss://localhost:21443"), entry(slog.LevelWarn, "bridge stopped")})
	want := "2025-11-21 13:04:05.123 INFO  bridge listening endpoint=wss://localhost:21443\n" +
		"2025-11-21 13:04:05.123 WARN  bridge stopped\n"
	if got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	if logText(nil) != "" {
		t.Error("no records should export as an empty file")
	}
}

func TestTrayStatus(t *testing.T) {
	running := trayStatus{Running: true, Endpoint: "wss://localhost:21443", Route: "/ws", Sessions: 2}
	checked := running
	checked.EngineChecked, checked.CertChecked, checked.CertTrusted = true, true, true
	for name, c := range map[string]struct {
		s    trayStatus
		icon iconState
		line string
	}{
		"running, not checked yet": {running, iconRunning, "Running · wss://localhost:21443 · 2 sessions"},
		"running, all fine":        {checked, iconRunning, "Running · wss://localhost:21443 · 2 sessions"},
		"one session": {func() trayStatus { s := checked; s.Sessions = 1; return s }(),
			iconRunning, "Running · wss://localhost:21443 · 1 session"},
		"engine down": {func() trayStatus { s := checked; s.Unreachable = []string{"127.0.0.1:21400"}; return s }(),
			iconWarning, "Warning: engine not reachable at 127.0.0.1:21400 · wss://localhost:21443 · 2 sessions"},
		"certificate untrusted": {func() trayStatus { s := checked; s.CertTrusted = false; return s }(),
			iconWarning, "Warning: certificate not trusted · wss://localhost:21443 · 2 sessions"},
		"a service": {func() trayStatus { s := checked; s.Service = true; return s }(),
			iconRunning, "Running as a service · wss://localhost:21443 · 2 sessions"},
		"another user's port": {trayStatus{Running: true, Endpoint: "wss://localhost:21447", PortNote: bridge.PortNote{Wanted: 21443, HeldBy: "another user"}},
			iconRunning, "Running · port 21447 (another user has 21443) · 0 sessions"},
		"stopped":               {trayStatus{Endpoint: "wss://localhost:21443"}, iconStopped, "Stopped"},
		"stopped with an error": {trayStatus{StartErr: "listen: ports 21443, 21444 are all in use by other programs"}, iconStopped, "Stopped: listen: ports 21443, 21444 are all in use by other programs"},
		"stopped, engine down":  {trayStatus{Unreachable: []string{"x:1"}}, iconStopped, "Stopped"},
	} {
		t.Run(name, func(t *testing.T) {
			if got := c.s.icon(); got != c.icon {
				t.Errorf("icon = %v, want %v", got, c.icon)
			}
			if got := c.s.statusLine(); got != c.line {
				t.Errorf("status line = %q\nwant          %q", got, c.line)
			}
		})
	}
}

func TestTrayStatusURLs(t *testing.T) {
	s := trayStatus{Running: true, Endpoint: "wss://localhost:21444", Route: "/ws"}
	if got := s.endpointURL(); got != "wss://localhost:21444/ws" {
		t.Errorf("endpointURL = %q", got)
	}
	if got := s.diagnosticsURL(); got != "https://localhost:21444/" {
		t.Errorf("diagnosticsURL = %q", got)
	}
}

func TestTrayStatusFromReports(t *testing.T) {
	s := trayStatus{}.withSnapshot(bridge.Snapshot{Running: true, Endpoint: "wss://localhost:1", Routes: []bridge.Route{{Path: "/a"}}, Sessions: make([]bridge.SessionInfo, 3)})
	s = s.withHealth(bridge.Health{Routes: []bridge.RouteHealth{{Target: "127.0.0.1:1", Reachable: true}, {Target: "127.0.0.1:2"}}})
	s = s.withCertificate(app.CertificateReport{Trusted: true})
	if !s.Running || s.Sessions != 3 || s.Route != "/a" || !slices.Equal(s.Unreachable, []string{"127.0.0.1:2"}) || !s.CertTrusted || !s.CertChecked {
		t.Errorf("got %+v", s)
	}
	if s = s.withHealth(bridge.Health{Routes: []bridge.RouteHealth{{Target: "127.0.0.1:2", Reachable: true}}}); len(s.Unreachable) != 0 {
		t.Errorf("an engine back up is still listed: %v", s.Unreachable)
	}
}

// labels flattens a menu into "label" lines, "  " for a submenu's items,
// with [disabled] and [x] marks, to compare whole menus at a glance.
func labels(entries []menuEntry, indent string) []string {
	var out []string
	for _, e := range entries {
		line := indent + e.Label
		if e.separator() {
			line = indent + "---"
		}
		if e.Disabled {
			line += " [disabled]"
		}
		if e.Checked {
			line += " [x]"
		}
		out = append(out, line)
		out = append(out, labels(e.Children, indent+"  ")...)
	}
	return out
}

func TestTrayMenu(t *testing.T) {
	running := trayStatus{Running: true, Endpoint: "wss://localhost:21443", Route: "/ws", Sessions: 2, AtLogin: true,
		CertChecked: true, CertTrusted: true, CertExpires: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)}
	for name, c := range map[string]struct {
		s       trayStatus
		busy    bool
		hasLogs bool
		want    []string
	}{
		"running": {running, false, true, []string{
			"Running · wss://localhost:21443 · 2 sessions [disabled]",
			"---",
			"Open Dashboard",
			"Stop Bridge",
			"---",
			"Copy Endpoint URL",
			"Open Diagnostics Page",
			"Certificate",
			"  Certificate trusted, renews before 2026-12-01 [disabled]",
			"  ---",
			"  Trust Certificate…",
			"  Renew Now",
			"---",
			"Start at Login [x]",
			"Open Logs Folder",
			"Export Support Bundle…",
			"---",
			"About Orion Bridge",
			"Quit",
		}},
		"stopped, no log folder, stopping": {trayStatus{Endpoint: "wss://localhost:21443"}, true, false, []string{
			"Stopped [disabled]",
			"---",
			"Open Dashboard",
			"Start Bridge [disabled]",
			"---",
			"Copy Endpoint URL",
			"Open Diagnostics Page [disabled]",
			"Certificate",
			"  Certificate: checking… [disabled]",
			"  ---",
			"  Trust Certificate…",
			"  Renew Now",
			"---",
			"Start at Login",
			"Open Logs Folder [disabled]",
			"Export Support Bundle…",
			"---",
			"About Orion Bridge",
			"Quit",
		}},
	} {
		t.Run(name, func(t *testing.T) {
			got := labels(trayMenu(c.s, c.busy, c.hasLogs), "")
			if !slices.Equal(got, c.want) {
				t.Errorf("menu:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(c.want, "\n"))
			}
		})
	}
}

func TestTrayMenuExternalCertificate(t *testing.T) {
	menu := trayMenu(trayStatus{Running: true, CertExternal: true, CertChecked: true, CertTrusted: true}, false, true)
	cert := menu[7]
	if cert.Label != "Certificate" || cert.Children[0].Label != "Certificate managed by your organisation" ||
		!cert.Children[2].Disabled || !cert.Children[3].Disabled {
		t.Errorf("external certificate submenu: %q", labels(cert.Children, ""))
	}
}

func TestTrayMenuActionsAreWired(t *testing.T) {
	seen := map[trayAction]bool{}
	var walk func([]menuEntry)
	walk = func(es []menuEntry) {
		for _, e := range es {
			if e.Action != actionNone {
				seen[e.Action] = true
			}
			walk(e.Children)
		}
	}
	walk(trayMenu(trayStatus{Running: true}, false, true))
	for a := actionOpenDashboard; a <= actionQuit; a++ {
		if !seen[a] {
			t.Errorf("no menu item has action %d", a)
		}
	}
}

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

func TestAlertLimiter(t *testing.T) {
	clock := &fakeClock{t: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	l := newAlertLimiter(5*time.Minute, clock.now)
	steps := []struct {
		after time.Duration
		kind  alertKind
		want  bool
	}{
		{0, alertEngineUnreachable, true},
		{time.Minute, alertEngineUnreachable, false},
		{0, alertCertNotTrusted, true}, // kinds are limited separately
		{3*time.Minute + 59*time.Second, alertEngineUnreachable, false},
		{time.Second, alertEngineUnreachable, true}, // 5 minutes after the first
		{time.Second, alertEngineUnreachable, false},
	}
	for i, s := range steps {
		clock.t = clock.t.Add(s.after)
		if got := l.allow(s.kind); got != s.want {
			t.Errorf("step %d: allow(%v) = %v, want %v", i, s.kind, got, s.want)
		}
	}
}

func kinds(as []alert) []alertKind {
	out := []alertKind{}
	for _, a := range as {
		out = append(out, a.Kind)
	}
	return out
}

func TestAlertWatcher(t *testing.T) {
	clock := &fakeClock{t: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	w := newAlertWatcher(newAlertLimiter(5*time.Minute, clock.now))
	up := bridge.Health{Routes: []bridge.RouteHealth{{Target: "127.0.0.1:21400", Reachable: true}}}
	down := bridge.Health{Routes: []bridge.RouteHealth{{Target: "127.0.0.1:21400"}}}
	trusted := app.CertificateReport{Trusted: true, Status: certs.Status{LeafSerial: "01"}}
	untrusted := app.CertificateReport{Status: certs.Status{LeafSerial: "01"}}
	renewed := app.CertificateReport{Trusted: true, Status: certs.Status{LeafSerial: "02"}}

	steps := []struct {
		name string
		tick time.Duration
		do   func() []alert
		want []alertKind
	}{
		{"engine up", 0, func() []alert { return w.health(up) }, nil},
		{"engine goes down", time.Second, func() []alert { return w.health(down) }, []alertKind{alertEngineUnreachable}},
		{"still down: no repeat", time.Hour, func() []alert { return w.health(down) }, nil},
		{"a page hit it: rate limited? no, an hour passed", 0, func() []alert { return w.sessionClosed(bridge.SessionInfo{CloseCode: 1013, Target: "127.0.0.1:21400"}) }, []alertKind{alertEngineUnreachable}},
		{"another page a minute later: limited", time.Minute, func() []alert { return w.sessionClosed(bridge.SessionInfo{CloseCode: 1013}) }, nil},
		{"a normal close", time.Hour, func() []alert { return w.sessionClosed(bridge.SessionInfo{CloseCode: 1000}) }, nil},
		{"untrusted at start", 0, func() []alert { return w.certificate(untrusted) }, []alertKind{alertCertNotTrusted}},
		{"still untrusted", time.Hour, func() []alert { return w.certificate(untrusted) }, nil},
		{"trusted", 0, func() []alert { return w.certificate(trusted) }, nil},
		{"renewed", 0, func() []alert { return w.certificate(renewed) }, []alertKind{alertCertRenewed}},
		{"trust lost (new CA)", 0, func() []alert { return w.certificate(app.CertificateReport{Status: certs.Status{LeafSerial: "02"}}) }, []alertKind{alertCertNotTrusted}},
	}
	for _, s := range steps {
		clock.t = clock.t.Add(s.tick)
		if got := kinds(s.do()); !slices.Equal(got, s.want) && !(len(got) == 0 && len(s.want) == 0) {
			t.Errorf("%s: alerts %v, want %v", s.name, got, s.want)
		}
	}
}

func TestAlertWatcherExternalCertificate(t *testing.T) {
	w := newAlertWatcher(newAlertLimiter(time.Minute, time.Now))
	if got := w.certificate(app.CertificateReport{Status: certs.Status{External: true}}); len(got) != 0 {
		t.Errorf("an organisation's certificate is its PKI's business, got %v", kinds(got))
	}
}

func TestSettingsFormRoundTrip(t *testing.T) {
	cfg := config.Default()
	f := settingsFromConfig(cfg)
	want := settingsForm{Port: "21443", MaxClients: "100", MaxMessageBytes: "16 MiB", PingInterval: "30s", PongTimeout: "1m",
		Routes: []routeFields{{Path: "/ws", Target: "127.0.0.1:21400", Framing: "raw"}}}
	if !equalForms(f, want) {
		t.Fatalf("form = %+v\nwant   %+v", f, want)
	}
	got, errs := f.apply(cfg)
	if len(errs) > 0 {
		t.Fatalf("an unchanged form does not apply: %v", errs)
	}
	if got.Port != cfg.Port || got.MaxMessageBytes != cfg.MaxMessageBytes || got.PongTimeout != cfg.PongTimeout || got.Routes[0].Target != cfg.Routes[0].Target || got.Routes[0].Framing != cfg.Routes[0].Framing {
		t.Errorf("round trip changed the config: %+v", got)
	}
}

func equalForms(a, b settingsForm) bool {
	return a.Port == b.Port && a.MaxClients == b.MaxClients && a.MaxMessageBytes == b.MaxMessageBytes &&
		a.PingInterval == b.PingInterval && a.PongTimeout == b.PongTimeout && slices.Equal(a.Routes, b.Routes)
}

func TestSettingsFormApply(t *testing.T) {
	base := config.Default()
	base.Token = "secret"
	base.AllowedOrigins = []string{"https://editor.example.com"}
	edit := func(change func(*settingsForm)) settingsForm {
		f := settingsFromConfig(base)
		change(&f)
		return f
	}
	for name, c := range map[string]struct {
		form  settingsForm
		check func(config.Config) bool
		errs  fieldErrors
	}{
		"new port and limits": {
			form: edit(func(f *settingsForm) {
				f.Port, f.MaxClients, f.MaxMessageBytes, f.PingInterval, f.PongTimeout = " 21500 ", "5", "512 KiB", "10s", "25s"
			}),
			check: func(c config.Config) bool {
				return c.Port == 21500 && c.MaxClients == 5 && c.MaxMessageBytes == 512<<10 && c.PingInterval == 10*time.Second &&
					c.PongTimeout == 25*time.Second && c.Token == "secret" && c.AllowedOrigins[0] == "https://editor.example.com"
			},
		},
		"route target and framing": {
			form: edit(func(f *settingsForm) { f.Routes[0].Target, f.Routes[0].Framing = "localhost:9000", "lines" }),
			check: func(c config.Config) bool {
				r := c.Routes[0]
				return r.Path == "/ws" && r.Target == "localhost:9000" && r.Framing == "lines"
			},
		},
		"bytes without a unit": {
			form:  edit(func(f *settingsForm) { f.MaxMessageBytes = "1000" }),
			check: func(c config.Config) bool { return c.MaxMessageBytes == 1000 },
		},
		"every parse error at once": {
			form: edit(func(f *settingsForm) { f.Port, f.MaxClients, f.PingInterval = "abc", "", "30" }),
			errs: fieldErrors{"port": `expected a whole number, got "abc"`, "max_clients": `expected a whole number, got ""`,
				"ping_interval": `expected a duration like "30s" or "2m", got "30"`},
		},
		"port out of range, in the config file's words": {
			form: edit(func(f *settingsForm) { f.Port = "70000" }),
			errs: fieldErrors{"port": "expected a port number 1-65535, got 70000"},
		},
		"port clashes with a fallback port": {
			form: edit(func(f *settingsForm) { f.Port = "21444" }),
			errs: fieldErrors{"port": "port 21444 is listed twice; port and fallback_ports must all differ"},
		},
		"pong not above ping": {
			form: edit(func(f *settingsForm) { f.PongTimeout = "30s" }),
			errs: fieldErrors{"pong_timeout": "expected more than ping_interval (30s), got 30s"},
		},
		"bad target": {
			form: edit(func(f *settingsForm) { f.Routes[0].Target = "nope" }),
			errs: fieldErrors{"routes[0].target": `expected "host:port" with a port number 1-65535, got "nope"`},
		},
		"bad size": {
			form: edit(func(f *settingsForm) { f.MaxMessageBytes = "16 MB" }),
			errs: fieldErrors{"max_message_bytes": `expected a size like "16 MiB" or a number of bytes, got "16 MB"`},
		},
		"routes changed meanwhile": {
			form: edit(func(f *settingsForm) { f.Routes = nil }),
			errs: fieldErrors{"": "the routes changed since this form was filled: click Revert"},
		},
	} {
		t.Run(name, func(t *testing.T) {
			got, errs := c.form.apply(base)
			if c.errs != nil {
				if !mapsEqual(errs, c.errs) {
					t.Errorf("errors %q\nwant   %q", errs, c.errs)
				}
				return
			}
			if len(errs) > 0 || !c.check(got) {
				t.Errorf("apply = %+v, errors %q", got, errs)
			}
		})
	}
}

func mapsEqual(a, b fieldErrors) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestConfigFieldError(t *testing.T) {
	for name, c := range map[string]struct {
		err  error
		want fieldErrors
	}{
		"a form field":         {&config.Error{Key: "max_clients", Problem: "expected an integer >= 1, got 0"}, fieldErrors{"max_clients": "expected an integer >= 1, got 0"}},
		"a route":              {&config.Error{Key: "routes[2].framing", Problem: "p"}, fieldErrors{"routes[2].framing": "p"}},
		"a key the form lacks": {&config.Error{Key: "allowed_origins[0]", Problem: "p"}, fieldErrors{"": `config: key "allowed_origins[0]": p`}},
		"not a config error":   {errors.New("save config /x: permission denied"), fieldErrors{"": "save config /x: permission denied"}},
	} {
		t.Run(name, func(t *testing.T) {
			if got := configFieldError(c.err); !mapsEqual(got, c.want) {
				t.Errorf("got %q, want %q", got, c.want)
			}
		})
	}
}

func TestFormatSettingValues(t *testing.T) {
	for in, want := range map[time.Duration]string{30 * time.Second: "30s", time.Minute: "1m", 90 * time.Second: "1m30s", 2 * time.Hour: "2h", 1500 * time.Millisecond: "1.5s"} {
		if got := formatSettingDuration(in); got != want {
			t.Errorf("formatSettingDuration(%v) = %q, want %q", in, got, want)
		}
		if back, err := parseSettingDuration(formatSettingDuration(in)); err != nil || back != in {
			t.Errorf("%v does not read back: %v, %v", in, back, err)
		}
	}
	for in, want := range map[int64]string{16 << 20: "16 MiB", 1 << 30: "1 GiB", 1536: "1536", 2048: "2 KiB", 1000: "1000"} {
		if got := formatByteSize(in); got != want {
			t.Errorf("formatByteSize(%d) = %q, want %q", in, got, want)
		}
		if back, err := parseByteSize(want); err != nil || back != in {
			t.Errorf("%q does not read back: %v, %v", want, back, err)
		}
	}
	for _, bad := range []string{"", "MiB", "-", "1.5 MiB", "99999999999999 GiB"} {
		if n, err := parseByteSize(bad); err == nil {
			t.Errorf("parseByteSize(%q) = %d, want an error", bad, n)
		}
	}
}

func TestAllowOrigin(t *testing.T) {
	base := config.Default()
	base.AllowedOrigins = []string{"https://editor.example.com"}
	base.DeniedOrigins = []string{"https://shop.example.com", "https://spam.example"}
	for name, c := range map[string]struct {
		input          string
		allowed, denid []string
		err            string
	}{
		"canonical form": {input: " HTTPS://Reports.Example.com:443/ ",
			allowed: []string{"https://editor.example.com", "https://reports.example.com"}, denid: base.DeniedOrigins},
		"wildcard": {input: "https://*.example.org",
			allowed: []string{"https://editor.example.com", "https://*.example.org"}, denid: base.DeniedOrigins},
		"leaves the denied list": {input: "https://shop.example.com",
			allowed: []string{"https://editor.example.com", "https://shop.example.com"}, denid: []string{"https://spam.example"}},
		"duplicate":  {input: "https://editor.example.com", err: "https://editor.example.com is already allowed"},
		"empty":      {input: "  ", err: `type a site like "https://editor.example.com"`},
		"not origin": {input: "https://example.com/editor", err: `origin "https://example.com/editor": expected scheme://host[:port] with nothing after it`},
		"bad scheme": {input: "ftp://example.com", err: `origin "ftp://example.com": expected http:// or https://`},
		"no scheme":  {input: "example.com", err: `origin "example.com": expected http:// or https://`},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := allowOrigin(base, c.input)
			if c.err != "" {
				if err == nil || err.Error() != c.err {
					t.Errorf("err = %v, want %q", err, c.err)
				}
				return
			}
			if err != nil || !slices.Equal(got.AllowedOrigins, c.allowed) || !slices.Equal(got.DeniedOrigins, c.denid) {
				t.Errorf("allowed %q denied %q err %v", got.AllowedOrigins, got.DeniedOrigins, err)
			}
			if len(base.AllowedOrigins) != 1 || len(base.DeniedOrigins) != 2 {
				t.Error("allowOrigin changed the config it was given")
			}
		})
	}
}

// A typed CertificateChanged event makes the tray read the certificate at
// once, rather than at the next minute's check; no log text is read.
func TestCertificateChangedEventRefreshesTheCertificate(t *testing.T) {
	ctrl := newFakeController()
	h := newBareHarness(t, ctrl, true)
	h.eventually(t, "the first certificate check", func() bool { return ctrl.certChecks.Load() == 1 })
	ctrl.publish(bridge.Event{Kind: bridge.CertificateChanged, Time: time.Now(),
		Certificate: bridge.CertificateChange{What: "leaf-issued", Reason: "forced renewal", Serial: "02"}})
	h.eventually(t, "the certificate to be read again", func() bool { return ctrl.certChecks.Load() == 2 })
}

func TestTrayIconsRenderAsPNG(t *testing.T) {
	test.NewTempApp(t)
	icons := iconResources()
	for _, st := range []iconState{iconRunning, iconWarning, iconStopped} {
		res := icons[st]
		img, err := png.Decode(bytes.NewReader(res.Content()))
		if err != nil {
			t.Fatalf("%v icon is not a PNG: %v", st, err)
		}
		if b := img.Bounds(); b.Dx() != trayIconPixels || b.Dy() != trayIconPixels {
			t.Errorf("%v icon is %v, want %d px square", st, b, trayIconPixels)
		}
		// Drawn from the SVG, not the fallback disc: the badge reaches into
		// the corners' neighbourhood, a disc does not.
		if _, _, _, a := img.At(trayIconPixels/8, trayIconPixels/8).RGBA(); a == 0 {
			t.Errorf("%v icon looks like the fallback disc, not the SVG", st)
		}
		// The centre pixel differs per state: green, amber, red.
		if res.Content() == nil || bytes.Equal(res.Content(), icons[(st+1)%3].Content()) {
			t.Errorf("%v icon is the same as another state's", st)
		}
	}
}
