package tray

import (
	"strings"
	"sync"
	"time"

	"fyne.io/fyne/v2/lang"

	"orionbridge/app"
	"orionbridge/bridge"
)

// alertEvery is the least time between two desktop notifications of one
// kind. A flapping engine must not bury the operator's desktop.
const alertEvery = 5 * time.Minute

// alertKind groups notifications for rate limiting.
type alertKind int

const (
	alertEngineUnreachable alertKind = iota + 1
	alertCertNotTrusted
	alertCertRenewed
)

// alert is one desktop notification to send.
type alert struct {
	Kind    alertKind
	Title   string
	Content string
}

// alertLimiter lets at most one alert of each kind through per interval.
type alertLimiter struct {
	mu    sync.Mutex
	every time.Duration
	last  map[alertKind]time.Time
	now   func() time.Time
}

func newAlertLimiter(every time.Duration, now func() time.Time) *alertLimiter {
	return &alertLimiter{every: every, last: make(map[alertKind]time.Time), now: now}
}

// allow reports whether an alert of kind may be sent now, and if so counts it.
func (l *alertLimiter) allow(kind alertKind) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if last, ok := l.last[kind]; ok && now.Sub(last) < l.every {
		return false
	}
	l.last[kind] = now
	return true
}

// alertWatcher turns what the tray observes into alerts: it notifies when
// something goes wrong (not for as long as it stays wrong), and when a page
// actually failed because of it.
type alertWatcher struct {
	limit *alertLimiter

	mu          sync.Mutex
	unreachable map[string]bool // engine targets known to be down
	trusted     *bool           // nil until the first certificate report
	serial      string          // the leaf's serial at the last report
}

func newAlertWatcher(limit *alertLimiter) *alertWatcher {
	return &alertWatcher{limit: limit, unreachable: make(map[string]bool)}
}

// health notices an engine going down.
func (w *alertWatcher) health(h bridge.Health) []alert {
	w.mu.Lock()
	var newlyDown []string
	for _, r := range h.Routes {
		if !r.Reachable && !w.unreachable[r.Target] {
			newlyDown = append(newlyDown, r.Target)
		}
		w.unreachable[r.Target] = !r.Reachable
	}
	w.mu.Unlock()
	if len(newlyDown) == 0 {
		return nil
	}
	return w.gate(engineAlert(strings.Join(newlyDown, ", ")))
}

// sessionClosed notices a page that could not reach the engine (1013).
func (w *alertWatcher) sessionClosed(s bridge.SessionInfo) []alert {
	if s.CloseCode != closeTryAgainLater {
		return nil
	}
	return w.gate(engineAlert(s.Target))
}

// closeTryAgainLater is the close code the bridge sends when the engine is
// not listening (RFC 6455 1013).
const closeTryAgainLater = 1013

func engineAlert(target string) alert {
	return alert{Kind: alertEngineUnreachable, Title: lang.X("alert.engine.title", "Report engine not reachable"),
		Content: lang.X("alert.engine.body", "Orion Bridge cannot reach the report engine at {{.Target}}. Start the report engine, then try again in the editor.",
			map[string]any{"Target": target})}
}

// certificate notices trust lost (or missing at start) and a renewed leaf.
func (w *alertWatcher) certificate(r app.CertificateReport) []alert {
	w.mu.Lock()
	var out []alert
	if !r.Status.External && !r.Trusted && (w.trusted == nil || *w.trusted) {
		out = append(out, alert{Kind: alertCertNotTrusted, Title: lang.X("alert.untrusted.title", "Certificate not trusted"),
			Content: lang.X("alert.untrusted.body", "Browsers cannot connect to Orion Bridge until you trust its certificate. Open the tray menu: Certificate ▸ Trust Certificate…")})
	}
	if w.serial != "" && r.Status.LeafSerial != "" && r.Status.LeafSerial != w.serial {
		out = append(out, alert{Kind: alertCertRenewed, Title: lang.X("alert.renewed.title", "Certificate renewed"),
			Content: lang.X("alert.renewed.body", "Orion Bridge renewed its certificate; it is valid until {{.Date}}. Open sessions are not affected.",
				map[string]any{"Date": r.Status.LeafNotAfter.Format(time.DateOnly)})})
	}
	trusted := r.Trusted
	w.trusted = &trusted
	if r.Status.LeafSerial != "" {
		w.serial = r.Status.LeafSerial
	}
	w.mu.Unlock()
	return w.gate(out...)
}

// gate drops the alerts the limiter holds back.
func (w *alertWatcher) gate(as ...alert) []alert {
	var out []alert
	for _, a := range as {
		if w.limit.allow(a.Kind) {
			out = append(out, a)
		}
	}
	return out
}
