// Package tray is Orion Bridge's desktop UI: the tray icon and menu, the
// dashboard window and the consent prompt. It reaches the bridge only through
// app.Controller, so the same UI works in-process and against a service.
//
// Background goroutines gather state into plain Go models under a mutex;
// widgets are touched only on Fyne's goroutine, through trayApp.ui (fyne.Do
// in the app, a queue the test drains in tests).
package tray

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"fyne.io/fyne/v2"
	fyneapp "fyne.io/fyne/v2/app"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/systray"

	"orionbridge/app"
	"orionbridge/autostart"
	"orionbridge/bridge"
	"orionbridge/config"
)

// appID is the app's identity for Fyne's preferences and notifications; it
// matches FyneApp.toml.
const appID = "com.orionreport.bridge"

const (
	// snapshotEvery is how often the session table refreshes with no event.
	snapshotEvery = time.Second
	// healthEvery is how often the engines are probed. Each probe opens a
	// TCP connection to the engine, so not more often than this.
	healthEvery = 10 * time.Second
	// certificateEvery is how often the trust stores are read; that runs
	// certutil once per browser profile.
	certificateEvery = time.Minute
	// eventBuffer is the event subscription's room: a burst of log records
	// while the UI is busy must not be dropped.
	eventBuffer = 1024
)

// Run is the tray app: app.Main calls it with the bridge once the bridge is
// built (and started, unless that failed), and it returns when the operator
// quits or opts.Quit is done. It stops the bridge before returning, unless
// the bridge is a service the tray is only attached to.
//
// When the window system fails (no usable OpenGL, no desktop: GLFW then
// panics in Fyne's driver, as under Wine without an X display), Run
// recovers, leaves the bridge running and returns a *GUIError, so the
// caller can go on without the tray instead of crashing.
func Run(ctrl app.Controller, opts app.UIOptions) (err error) {
	// Creating the app may already touch the driver.
	defer recoverGUI(&err)
	fyneapp.SetMetadata(fyne.AppMetadata{ID: appID, Name: "Orion Bridge", Version: opts.Version})
	a := fyneapp.NewWithID(appID)
	t := newTrayApp(ctrl, a, fyne.Do, opts.Version)
	// Before any window or menu is built: their text is looked up once.
	if err := useLanguage(t.model().Config.Language); err != nil {
		fmt.Fprintln(os.Stderr, "orionbridge: "+err.Error()+"; the tray follows the system's language")
	}
	if desk, ok := a.(desktop.App); ok && trayHostReachable() {
		t.desk = desk
		t.onTrayTapped = systray.SetOnTapped
	} else {
		fmt.Fprintln(os.Stderr, "orionbridge: no system tray here (no D-Bus session bus): the dashboard stays open, and closing it quits")
		opts.ShowDashboard = true
	}
	a.SetIcon(appIcon)
	return t.run(opts)
}

// GUIError is Run's error when the window system failed. The bridge was
// left running. cli knows it by its GUIUnavailable method: cli must not
// import this package (the headless build has no Fyne).
type GUIError struct {
	Cause string // the driver's panic, e.g. "NotInitialized: The GLFW library is not initialized"
	Stack string // where it panicked, for the log
}

func (e *GUIError) Error() string {
	return "the tray's window system failed (no usable OpenGL driver or desktop?): " + e.Cause
}

// GUIUnavailable marks the error for cli's fallback to running headless.
func (*GUIError) GUIUnavailable() bool { return true }

// GUIStack is where the driver panicked, which cli logs.
func (e *GUIError) GUIStack() string { return e.Stack }

// recoverGUI turns a panic of the UI into a *GUIError in *err. It must be
// deferred directly (recover works only there).
func recoverGUI(err *error) {
	r := recover()
	if r == nil {
		return
	}
	*err = &GUIError{Cause: fmt.Sprint(r), Stack: string(debug.Stack())}
}

// run builds the UI and runs Fyne's loop until the app quits. A panic in
// it (recovered by the deferred function, see Run) ends the UI's
// goroutines and returns a *GUIError without stopping the bridge.
func (t *trayApp) run(opts app.UIOptions) (err error) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var shots *screenshots
	ended := false // the teardown below has run
	// end releases what the UI holds: from here nobody can answer a
	// prompt, and Fyne's queue is drained or dead.
	end := func() {
		ended = true
		t.closed.Store(true)
		if opts.OnShowDashboard != nil {
			opts.OnShowDashboard(nil)
		}
		t.ctrl.SetConsent(nil)
		t.consent.close()
		cancel()
	}
	defer func() {
		r := recover()
		if r == nil {
			return
		}
		if !ended {
			end()
		}
		t.wg.Wait()
		err = errors.Join(&GUIError{Cause: fmt.Sprint(r), Stack: string(debug.Stack())}, shots.err())
	}()

	t.start(ctx)
	t.buildUI()
	t.ctrl.SetConsent(t.consent)

	if opts.ShowDashboard {
		t.dashboard().show("")
	}
	if opts.OnShowDashboard != nil {
		// A second start of the app asks for the dashboard, from the
		// bridge's control API goroutine.
		opts.OnShowDashboard(func() { t.ui(func() { t.dashboard().show("") }) })
	}
	shots = startScreenshots(ctx, t) // nil unless built with -tags screenshots
	if opts.Quit != nil {
		t.spawn(func() {
			select {
			case <-opts.Quit.Done():
				t.ui(t.quit)
			case <-ctx.Done():
			}
		})
	}

	t.app.Run()

	// From here fyne.Do would run functions on the caller's goroutine.
	end()
	var stopErr error
	if t.ownsBridge() {
		stopErr = t.ctrl.Stop() // graceful (1001) whichever way the app ended
	}
	t.wg.Wait()
	return errors.Join(stopErr, shots.err())
}

// trayApp is the tray and its windows around one Controller.
type trayApp struct {
	ctrl    app.Controller
	app     fyne.App
	version string
	doUI    func(func()) // fyne.Do, or the test's queue
	closed  atomic.Bool  // the Fyne loop has ended
	desk    desktop.App  // nil where there is no system tray (tests)
	icons   map[iconState]fyne.Resource

	logs    *logRing
	alerts  *alertWatcher
	consent *consentPrompts

	// Kicks ask a poller to look now rather than at its next tick.
	kickSnapshot, kickHealth, kickCert chan struct{}
	refreshQueued                      atomic.Bool
	wg                                 sync.WaitGroup
	// ctx bounds the controller calls of the pollers and actions: it ends
	// when the app quits, so a call to an unresponsive service does not
	// hold up Run. Set by start, before any goroutine reads it.
	ctx context.Context

	mu     sync.Mutex // guards the state below, written by the pollers
	status trayStatus
	snap   bridge.Snapshot
	cfg    config.Config
	info   app.Info
	cert   *app.CertificateReport // nil until the first check
	busy   bool                   // a Start or Stop is under way

	// onTrayTapped sets what a click on the tray icon does (systray's
	// SetOnTapped in Run); nil where there is no tray.
	onTrayTapped func(func())

	// UI goroutine only.
	dash      *dashboard // nil until first shown: see dashboard
	shownMenu []menuEntry
	shownIcon iconState
	iconSet   bool
	about     fyne.Window
}

func newTrayApp(ctrl app.Controller, a fyne.App, doUI func(func()), version string) *trayApp {
	t := &trayApp{
		ctrl:         ctrl,
		app:          a,
		version:      version,
		doUI:         doUI,
		icons:        iconResources(),
		logs:         newLogRing(logCapacity),
		alerts:       newAlertWatcher(newAlertLimiter(alertEvery, time.Now)),
		kickSnapshot: make(chan struct{}, 1),
		kickHealth:   make(chan struct{}, 1),
		kickCert:     make(chan struct{}, 1),
		ctx:          context.Background(),
	}
	t.consent = newConsentPrompts(a, t.ui, t.queueRefresh)
	// Fill the models once before the first frame, so nothing shows empty.
	t.refreshSnapshot()
	t.status.AtLogin, _ = autostart.Enabled()
	return t
}

// ui runs f on Fyne's goroutine, unless the app has ended.
func (t *trayApp) ui(f func()) {
	if t.closed.Load() {
		return
	}
	t.doUI(f)
}

// spawn runs f on a goroutine that Run waits for before returning.
func (t *trayApp) spawn(f func()) {
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		f()
	}()
}

// start launches the goroutines that keep the models current until ctx ends.
func (t *trayApp) start(ctx context.Context) {
	t.ctx = ctx
	events := t.ctrl.Subscribe(ctx, eventBuffer)
	t.spawn(func() { t.watchEvents(events) })
	t.spawn(func() { t.poll(ctx, snapshotEvery, t.kickSnapshot, t.refreshSnapshot) })
	t.spawn(func() { t.poll(ctx, healthEvery, t.kickHealth, t.refreshHealth) })
	t.spawn(func() { t.poll(ctx, certificateEvery, t.kickCert, t.refreshCertificate) })
}

// watchEvents feeds the log ring and turns session and state events into
// prompt refreshes, until the subscription closes with its context.
func (t *trayApp) watchEvents(events <-chan bridge.Event) {
	for ev := range events {
		switch ev.Kind {
		case bridge.LogRecord:
			t.logs.Add(ev.Log)
			t.queueRefresh()
		case bridge.CertificateChanged:
			// The Certificate tab and the renewal alert need not wait
			// for the next minute's check.
			kick(t.kickCert)
		case bridge.SessionOpened:
			kick(t.kickSnapshot)
		case bridge.SessionClosed:
			t.notify(t.alerts.sessionClosed(ev.Session))
			if ev.Session.CloseCode == closeTryAgainLater {
				kick(t.kickHealth)
			}
			kick(t.kickSnapshot)
		case bridge.StateChanged:
			kick(t.kickSnapshot)
			kick(t.kickHealth)
		}
	}
}

// poll calls refresh now, then every interval or when kicked.
func (t *trayApp) poll(ctx context.Context, every time.Duration, kicked <-chan struct{}, refresh func()) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		refresh()
		t.queueRefresh()
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-kicked:
		}
	}
}

func kick(ch chan<- struct{}) {
	select {
	case ch <- struct{}{}:
	default: // a kick is already pending
	}
}

// refreshSnapshot reads the sessions and the config. A service that does
// not answer is shown as such; the config keeps its last known value, so
// the Settings and Sites tabs never show (or save) an empty one.
func (t *trayApp) refreshSnapshot() {
	info := t.ctrl.Info()
	snap, err := t.ctrl.Snapshot(t.ctx)
	var cfg config.Config
	if err == nil {
		cfg, err = t.ctrl.Config(t.ctx)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.info = info
	t.status.Service = info.Mode == modeHeadless
	if err != nil {
		t.snap.Sessions, t.snap.Running = nil, false
		t.status = t.status.withUnreachable(err)
		return
	}
	t.snap, t.cfg = snap, cfg
	t.status = t.status.withSnapshot(snap)
}

// modeHeadless is app.Info's Mode of a bridge without a UI of its own: a
// service this tray is attached to.
const modeHeadless = "headless"

// ownsBridge reports whether the bridge lives and dies with this tray. A
// service does not: quitting the tray must leave it serving.
func (t *trayApp) ownsBridge() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.info.Mode != modeHeadless
}

func (t *trayApp) refreshHealth() {
	h, err := t.ctrl.Health(t.ctx)
	if err != nil {
		return // refreshSnapshot says the service is not reachable
	}
	t.mu.Lock()
	t.status = t.status.withHealth(h)
	t.mu.Unlock()
	t.notify(t.alerts.health(h))
}

func (t *trayApp) refreshCertificate() {
	r, err := t.ctrl.Certificate(t.ctx)
	if err != nil {
		return // likewise: the last report stays until the service answers
	}
	t.mu.Lock()
	t.cert = &r
	t.status = t.status.withCertificate(r)
	t.mu.Unlock()
	t.notify(t.alerts.certificate(r))
}

// model is a consistent copy of what the pollers gathered. The UI reads
// the controller's state only from here: a controller attached to a service
// answers over HTTP, which must not stall Fyne's goroutine.
type model struct {
	Status  trayStatus
	Snap    bridge.Snapshot
	Config  config.Config
	Managed map[string]bool // top-level config keys IT sets: read-only here
	Info    app.Info
	Cert    *app.CertificateReport
	Busy    bool
}

func (t *trayApp) model() model {
	t.mu.Lock()
	defer t.mu.Unlock()
	managed := make(map[string]bool, len(t.info.ManagedKeys))
	for _, k := range t.info.ManagedKeys {
		managed[k] = true
	}
	return model{Status: t.status, Snap: t.snap, Config: t.cfg, Managed: managed, Info: t.info, Cert: t.cert, Busy: t.busy}
}

// queueRefresh asks for one UI refresh; requests made while one is queued
// fold into it, so a burst of log records costs one redraw.
func (t *trayApp) queueRefresh() {
	if t.refreshQueued.CompareAndSwap(false, true) {
		t.ui(func() {
			t.refreshQueued.Store(false)
			t.refreshUI()
		})
	}
}

// refreshUI brings the tray and the windows up to date with the models.
func (t *trayApp) refreshUI() {
	m := t.model()
	t.updateTray(m)
	if t.dash != nil {
		t.dash.refresh(m)
	}
	t.consent.tick(time.Now())
}

func (t *trayApp) notify(alerts []alert) {
	for _, a := range alerts {
		t.ui(func() { t.app.SendNotification(fyne.NewNotification(a.Title, a.Content)) })
	}
}

// buildUI sets up the tray, or where there is none the dashboard, which
// then is the app; UI goroutine.
func (t *trayApp) buildUI() {
	if t.desk == nil {
		t.dashboard()
	} else if t.onTrayTapped != nil {
		// A click on the tray icon opens the dashboard where the desktop
		// supports it; the menu's Open Dashboard works everywhere. Set
		// before the tray starts: on Linux it decides whether the icon is
		// a menu only. Fyne's SetSystemTrayWindow would do the same but
		// needs the window, which is built on first use.
		t.onTrayTapped(func() { t.ui(func() { t.dashboard().show("") }) })
	}
	t.refreshUI() // sets the tray icon and menu, which starts the tray
}

// dashboard returns the dashboard, building it the first time. Most of
// the day the tray app only sits in the tray: built at start, the hidden
// window's widgets and the fonts they measure with cost about 20 MiB
// (docs/benchmarks.md). Once built it stays, hidden when closed, so it
// opens again at once. UI goroutine.
func (t *trayApp) dashboard() *dashboard {
	if t.dash == nil {
		t.dash = newDashboard(t)
		t.dash.refresh(t.model())
	}
	return t.dash
}

// updateTray sets the tray icon and menu when they differ from what is
// shown: rebuilding the menu re-creates every native item, so not every
// second.
func (t *trayApp) updateTray(m model) {
	if t.desk == nil {
		return
	}
	if icon := m.Status.icon(); !t.iconSet || icon != t.shownIcon {
		t.desk.SetSystemTrayIcon(t.icons[icon])
		t.shownIcon, t.iconSet = icon, true
	}
	entries := trayMenu(m.Status, m.Busy, m.Info.LogDir != "")
	if slices.EqualFunc(entries, t.shownMenu, menuEntriesEqual) {
		return
	}
	t.shownMenu = entries
	t.desk.SetSystemTrayMenu(fyne.NewMenu("Orion Bridge", t.fyneMenuItems(entries)...))
}

func menuEntriesEqual(a, b menuEntry) bool {
	return a.Label == b.Label && a.Action == b.Action && a.Disabled == b.Disabled &&
		a.Checked == b.Checked && slices.EqualFunc(a.Children, b.Children, menuEntriesEqual)
}

// fyneMenuItems maps menu entries to Fyne items bound to their actions.
func (t *trayApp) fyneMenuItems(entries []menuEntry) []*fyne.MenuItem {
	items := make([]*fyne.MenuItem, 0, len(entries))
	for _, e := range entries {
		if e.separator() {
			items = append(items, fyne.NewMenuItemSeparator())
			continue
		}
		item := fyne.NewMenuItem(e.Label, t.action(e.Action))
		item.Disabled, item.Checked = e.Disabled, e.Checked
		if e.Children != nil {
			item.ChildMenu = fyne.NewMenu(e.Label, t.fyneMenuItems(e.Children)...)
		}
		items = append(items, item)
	}
	return items
}

// setBusy marks a Start or Stop under way, and refreshes the menu.
func (t *trayApp) setBusy(busy bool, startErr string) {
	t.mu.Lock()
	t.busy = busy
	if !busy {
		t.status.StartErr = startErr
	}
	t.mu.Unlock()
	t.queueRefresh()
}
