package tray

import (
	"strconv"
	"strings"
	"time"

	"fyne.io/fyne/v2/lang"

	"orionbridge/app"
	"orionbridge/bridge"
)

// trayStatus is what the tray knows about the bridge, gathered from
// snapshots, health probes and certificate reports. The tray icon, its
// status line and its menu are functions of it alone.
type trayStatus struct {
	Running bool
	// Service: the bridge runs headless (a system service) and this tray
	// is attached to it; quitting the tray leaves it running.
	Service  bool
	Endpoint string // wss://localhost:PORT
	// PortNote says why the bridge is not on its configured port, e.g.
	// another user of this computer has it (issue 16); zero when it is.
	PortNote bridge.PortNote
	Route    string // the first route's path, for the URL pages connect to
	Sessions int
	// StartErr is why the bridge is not running, when Start failed.
	StartErr string
	// ServiceErr is why the service this tray is attached to did not
	// answer; "" while it does. Running is then false: the tray cannot
	// tell.
	ServiceErr string

	// EngineChecked is false until the first health probe answered.
	EngineChecked bool
	// Unreachable lists the engine targets that did not accept a connection.
	Unreachable []string

	CertChecked  bool
	CertTrusted  bool
	CertExternal bool
	CertExpires  time.Time // the served (leaf) certificate

	// AtLogin: the tray app starts when this user logs in.
	AtLogin bool
}

// iconState is what the tray icon shows.
type iconState int

const (
	iconStopped iconState = iota // not listening, or failed to start
	iconRunning                  // listening, engine reachable, certificate trusted
	iconWarning                  // listening, but pages will fail: engine down or certificate untrusted
)

func (s iconState) String() string {
	switch s {
	case iconRunning:
		return "running"
	case iconWarning:
		return "warning"
	}
	return "stopped"
}

// icon decides the tray icon. A running bridge shows a warning only for a
// problem known for sure: before the first checks it is presumed fine, so
// the icon does not flash amber at every start.
func (s trayStatus) icon() iconState {
	switch {
	case !s.Running:
		return iconStopped
	case len(s.Unreachable) > 0, s.CertChecked && !s.CertTrusted:
		return iconWarning
	}
	return iconRunning
}

// problem names the first thing that stops pages from connecting, in the
// operator's words, or "".
func (s trayStatus) problem() string {
	switch {
	case !s.Running:
		return ""
	case len(s.Unreachable) > 0:
		return lang.X("status.problem_engine", "engine not reachable at {{.Targets}}", map[string]any{"Targets": strings.Join(s.Unreachable, ", ")})
	case s.CertChecked && !s.CertTrusted:
		return lang.X("status.problem_certificate", "certificate not trusted")
	}
	return ""
}

// statusLine is the first, disabled line of the tray menu, e.g.
// "Running · wss://localhost:21443 · 2 sessions".
func (s trayStatus) statusLine() string {
	if s.ServiceErr != "" {
		return lang.X("status.service_unreachable", "Service not reachable")
	}
	if !s.Running {
		if s.StartErr != "" {
			return lang.X("status.stopped_error", "Stopped: {{.Error}}", map[string]any{"Error": clip(s.StartErr, 70)})
		}
		return lang.X("status.stopped", "Stopped")
	}
	state := lang.X("status.running", "Running")
	if s.Service {
		state = lang.X("status.running_service", "Running as a service")
	}
	if p := s.problem(); p != "" {
		state = lang.X("status.warning", "Warning: {{.Problem}}", map[string]any{"Problem": p})
	}
	return state + " · " + s.where() + " · " + lang.X("status.sessions", "{{.Count}} {{if eq .Count 1}}session{{else}}sessions{{end}}", map[string]any{"Count": s.Sessions})
}

// where is the endpoint, or, when the bridge is not on its configured
// port, that port and who has the configured one: "port 21447 (another
// user has 21443)", so a user of a shared computer knows why.
func (s trayStatus) where() string {
	if s.PortNote.Wanted == 0 {
		return s.Endpoint
	}
	port := s.Endpoint[strings.LastIndexByte(s.Endpoint, ':')+1:]
	return lang.X("status.port_held", "port {{.Port}} ({{.HeldBy}} has {{.Wanted}})",
		map[string]any{"Port": port, "HeldBy": s.PortNote.HeldBy, "Wanted": strconv.Itoa(s.PortNote.Wanted)})
}

// endpointURL is what a page passes to new WebSocket(...).
func (s trayStatus) endpointURL() string { return s.Endpoint + s.Route }

// diagnosticsURL is the bridge's own page, on the same port as the endpoint.
func (s trayStatus) diagnosticsURL() string {
	return "https://" + strings.TrimPrefix(s.Endpoint, "wss://") + "/"
}

// certificateLine is the status line of the Certificate submenu.
func (s trayStatus) certificateLine() string {
	switch {
	case s.CertExternal:
		return lang.X("status.cert_external", "Certificate managed by your organisation")
	case !s.CertChecked:
		return lang.X("status.cert_checking", "Certificate: checking…")
	case s.CertTrusted:
		if !s.CertExpires.IsZero() {
			return lang.X("status.cert_trusted_until", "Certificate trusted, renews before {{.Date}}",
				map[string]any{"Date": s.CertExpires.Format(time.DateOnly)})
		}
		return lang.X("status.cert_trusted", "Certificate trusted")
	}
	return lang.X("status.cert_untrusted", "Certificate not trusted: browsers cannot connect")
}

// withSnapshot copies the listener's state from snap.
func (s trayStatus) withSnapshot(snap bridge.Snapshot) trayStatus {
	s.Running, s.Endpoint, s.Sessions = snap.Running, snap.Endpoint, len(snap.Sessions)
	s.PortNote = snap.PortNote
	s.Route = ""
	if len(snap.Routes) > 0 {
		s.Route = snap.Routes[0].Path
	}
	if s.Running {
		s.StartErr = ""
	}
	s.ServiceErr = ""
	return s
}

// withUnreachable records that the service did not answer.
func (s trayStatus) withUnreachable(err error) trayStatus {
	s.Running, s.Sessions, s.ServiceErr = false, 0, err.Error()
	return s
}

// withHealth copies engine reachability from a health probe.
func (s trayStatus) withHealth(h bridge.Health) trayStatus {
	s.EngineChecked, s.Unreachable = true, nil
	for _, r := range h.Routes {
		if !r.Reachable {
			s.Unreachable = append(s.Unreachable, r.Target)
		}
	}
	return s
}

// withCertificate copies trust and expiry from a certificate report.
func (s trayStatus) withCertificate(r app.CertificateReport) trayStatus {
	s.CertChecked = true
	s.CertTrusted = r.Trusted
	s.CertExternal = r.Status.External
	s.CertExpires = r.Status.LeafNotAfter
	return s
}

// trayAction is what a menu item does; the menu model names it and the
// widget layer maps it to code.
type trayAction int

const (
	actionNone trayAction = iota
	actionOpenDashboard
	actionToggleBridge
	actionCopyEndpoint
	actionOpenDiagnostics
	actionTrustCertificate
	actionRenewCertificate
	actionStartAtLogin
	actionOpenLogs
	actionExportBundle
	actionAbout
	actionQuit
)

// menuEntry is one tray menu item, free of Fyne so it can be compared and
// tested. A zero Label is a separator.
type menuEntry struct {
	Label    string
	Action   trayAction
	Disabled bool
	Checked  bool
	Children []menuEntry
}

func (e menuEntry) separator() bool { return e.Label == "" }

// trayMenu is the tray menu for s. busy is set while a Start or Stop is under
// way, so the toggle cannot be clicked twice; hasLogs says whether there is a
// log folder to open.
func trayMenu(s trayStatus, busy, hasLogs bool) []menuEntry {
	toggle := menuEntry{Label: lang.X("menu.stop", "Stop Bridge"), Action: actionToggleBridge, Disabled: busy}
	if !s.Running {
		toggle.Label = lang.X("menu.start", "Start Bridge")
	}
	return []menuEntry{
		{Label: s.statusLine(), Disabled: true},
		{},
		{Label: lang.X("menu.open_dashboard", "Open Dashboard"), Action: actionOpenDashboard},
		toggle,
		{},
		{Label: lang.X("menu.copy_endpoint", "Copy Endpoint URL"), Action: actionCopyEndpoint, Disabled: s.Endpoint == ""},
		{Label: lang.X("menu.open_diagnostics", "Open Diagnostics Page"), Action: actionOpenDiagnostics, Disabled: !s.Running},
		{Label: lang.X("menu.certificate", "Certificate"), Children: []menuEntry{
			{Label: s.certificateLine(), Disabled: true},
			{},
			{Label: lang.X("menu.trust", "Trust Certificate…"), Action: actionTrustCertificate, Disabled: s.CertExternal},
			{Label: lang.X("menu.renew", "Renew Now"), Action: actionRenewCertificate, Disabled: s.CertExternal},
		}},
		{},
		{Label: lang.X("menu.start_at_login", "Start at Login"), Action: actionStartAtLogin, Checked: s.AtLogin},
		{Label: lang.X("menu.open_logs", "Open Logs Folder"), Action: actionOpenLogs, Disabled: !hasLogs},
		{Label: lang.X("menu.export_bundle", "Export Support Bundle…"), Action: actionExportBundle},
		{},
		{Label: lang.X("menu.about", "About Orion Bridge"), Action: actionAbout},
		{Label: lang.X("menu.quit", "Quit"), Action: actionQuit},
	}
}

// clip shortens s to at most n runes, with an ellipsis.
func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
