package tray

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"
	"go.uber.org/goleak"

	"orionbridge/app"
	"orionbridge/bridge"
	"orionbridge/certs"
	"orionbridge/config"
)

// Every test must leave no goroutine of ours behind: pollers, the event
// loop, consent waits, controller calls. Fyne's package init starts one
// queue goroutine of its own, for the life of the process.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("fyne.io/fyne/v2/internal/async.(*UnboundedChan[...]).processing"))
}

// uiQueue stands in for Fyne's event loop. With Fyne's test driver fyne.Do
// runs a function at once on the caller's goroutine, which would touch
// widgets from the pollers while the test reads them; the queue instead
// keeps every widget call on the test's goroutine, as the real loop keeps
// them on the main one.
type uiQueue struct {
	mu  sync.Mutex
	fns []func()
}

func (q *uiQueue) do(f func()) {
	q.mu.Lock()
	q.fns = append(q.fns, f)
	q.mu.Unlock()
}

// drain runs queued work, including work queued while draining.
func (q *uiQueue) drain() {
	for {
		q.mu.Lock()
		if len(q.fns) == 0 {
			q.mu.Unlock()
			return
		}
		f := q.fns[0]
		q.fns = q.fns[1:]
		q.mu.Unlock()
		f()
	}
}

// harness is a trayApp on Fyne's test app, its UI queue, and its stop.
type harness struct {
	*trayApp
	q *uiQueue
}

func newHarness(t *testing.T, ctrl app.Controller) *harness {
	t.Helper()
	h := newBareHarness(t, ctrl, true)
	// The tests look at the dashboard, which a tray app builds on first use.
	h.dashboard().window.Resize(dashboardSize)
	return h
}

// newBareHarness is the app as Run leaves it before the loop starts: with
// a (fake) tray or without one, nothing opened yet.
func newBareHarness(t *testing.T, ctrl app.Controller, withTray bool) *harness {
	t.Helper()
	a := test.NewTempApp(t)
	q := &uiQueue{}
	tr := newTrayApp(ctrl, a, q.do, "test")
	if withTray {
		tray := &fakeTray{}
		tr.desk, tr.onTrayTapped = tray, tray.setOnTapped
	}
	ctx, cancel := context.WithCancel(context.Background())
	tr.start(ctx)
	tr.buildUI()
	t.Cleanup(func() {
		// As Run does after the Fyne loop ends.
		tr.closed.Store(true)
		tr.consent.close()
		cancel()
		tr.wg.Wait()
	})
	return &harness{trayApp: tr, q: q}
}

// eventually runs the UI queue and refreshes until cond holds, failing the
// test after a bound.
func (h *harness) eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		h.q.drain()
		h.refreshUI()
		if cond() {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// shows reports whether the window draws text (in a visible object).
func shows(w fyne.Window, text string) bool {
	return strings.Contains(test.RenderToMarkup(w.Canvas()), text)
}

// findButton finds a visible button by its label under o.
func findButton(t *testing.T, o fyne.CanvasObject, label string) *widget.Button {
	t.Helper()
	var found *widget.Button
	walk(o, func(o fyne.CanvasObject) {
		if b, ok := o.(*widget.Button); ok && b.Text == label && b.Visible() && found == nil {
			found = b
		}
	})
	if found == nil {
		t.Fatalf("no button %q", label)
	}
	return found
}

// walk visits o and every visible object drawn inside it, through the
// widgets' live renderers, as the canvas does.
func walk(o fyne.CanvasObject, visit func(fyne.CanvasObject)) {
	if o == nil || !o.Visible() {
		return
	}
	visit(o)
	switch c := o.(type) {
	case *fyne.Container:
		for _, child := range c.Objects {
			walk(child, visit)
		}
	case fyne.Widget:
		for _, child := range test.WidgetRenderer(c).Objects() {
			walk(child, visit)
		}
	}
}

// labelsUnder is the set of label texts drawn inside o.
func labelsUnder(o fyne.CanvasObject) map[string]bool {
	texts := map[string]bool{}
	walk(o, func(o fyne.CanvasObject) {
		if l, ok := o.(*widget.Label); ok {
			texts[l.Text] = true
		}
	})
	return texts
}

// fakeTray records what the tray shows, and what a click on its icon does.
type fakeTray struct {
	icon   fyne.Resource
	menu   *fyne.Menu
	tapped func()
}

func (f *fakeTray) setOnTapped(fn func()) { f.tapped = fn }

func (f *fakeTray) SetSystemTrayMenu(m *fyne.Menu)    { f.menu = m }
func (f *fakeTray) SetSystemTrayIcon(r fyne.Resource) { f.icon = r }
func (f *fakeTray) SetSystemTrayWindow(fyne.Window)   {}

// menuItem finds a tray menu item by label.
func menuItem(t *testing.T, m *fyne.Menu, label string) *fyne.MenuItem {
	t.Helper()
	if m == nil {
		t.Fatal("no tray menu")
	}
	for _, it := range m.Items {
		if it.Label == label {
			return it
		}
		if it.ChildMenu != nil {
			for _, c := range it.ChildMenu.Items {
				if c.Label == label {
					return c
				}
			}
		}
	}
	t.Fatalf("no tray menu item %q", label)
	return nil
}

// fakeController is an app.Controller without a bridge, for tests of views
// that need no real sessions. Events are published by the test.
type fakeController struct {
	mu      sync.Mutex
	snap    bridge.Snapshot
	cfg     config.Config
	subs    []chan bridge.Event
	applied []config.Config
	consent bridge.Consent
	applyFn func(config.Config) error
	managed []string // keys the machine-wide config sets
	mode    string   // Info().Mode; "tray" when empty
	stops   int

	certChecks atomic.Int32 // Certificate calls
}

var _ app.Controller = (*fakeController)(nil)

func newFakeController() *fakeController {
	cfg := config.Default()
	return &fakeController{cfg: cfg, snap: bridge.Snapshot{Running: true, Endpoint: "wss://localhost:21443", Routes: []bridge.Route{{Path: "/ws"}}}}
}

func (f *fakeController) publish(e bridge.Event) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, ch := range f.subs {
		ch <- e
	}
}

func (f *fakeController) Snapshot(context.Context) (bridge.Snapshot, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.snap, nil
}
func (f *fakeController) Health(context.Context) (bridge.Health, error) {
	return bridge.Health{Status: "ok"}, nil
}
func (f *fakeController) Subscribe(ctx context.Context, buffer int) <-chan bridge.Event {
	ch := make(chan bridge.Event, buffer)
	f.mu.Lock()
	f.subs = append(f.subs, ch)
	f.mu.Unlock()
	context.AfterFunc(ctx, func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.subs = slices.DeleteFunc(f.subs, func(c chan bridge.Event) bool { return c == ch })
		close(ch)
	})
	return ch
}
func (f *fakeController) Start() error { return nil }
func (f *fakeController) Stop() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stops++
	return nil
}
func (f *fakeController) Disconnect(id string) error {
	return errors.New("disconnect " + id + ": no such session")
}
func (f *fakeController) Config(context.Context) (config.Config, error) {
	return f.config(), nil
}

// config is the fake's config, for the test's own checks.
func (f *fakeController) config() config.Config {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.cfg
}
func (f *fakeController) ConfigPath() string { return "/tmp/orionbridge-test/config.toml" }
func (f *fakeController) ApplyConfig(cfg config.Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	if f.applyFn != nil {
		if err := f.applyFn(cfg); err != nil {
			return err
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cfg = cfg
	f.applied = append(f.applied, cfg)
	return nil
}
func (f *fakeController) SetConsent(c bridge.Consent) {
	f.mu.Lock()
	f.consent = c
	f.mu.Unlock()
}
func (f *fakeController) Certificate(context.Context) (app.CertificateReport, error) {
	f.certChecks.Add(1)
	return app.CertificateReport{Trusted: true, Status: certs.Status{CAFingerprint: "AA:BB", LeafSerial: "01",
		LeafNotAfter: time.Now().Add(300 * 24 * time.Hour), CANotAfter: time.Now().Add(3000 * 24 * time.Hour)},
		Stores: []certs.StoreStatus{{Name: "Chrome/Chromium (NSS)", Path: "/home/u/.pki/nssdb", State: certs.StateTrusted, Browser: true}}}, nil
}
func (f *fakeController) TrustCertificate() ([]certs.StoreResult, error) { return nil, nil }
func (f *fakeController) RenewCertificate() error                        { return nil }
func (f *fakeController) LogDir() string                                 { return "/tmp/orionbridge-test/logs" }
func (f *fakeController) Info() app.Info {
	f.mu.Lock()
	defer f.mu.Unlock()
	mode := f.mode
	if mode == "" {
		mode = "tray"
	}
	return app.Info{Mode: mode, Version: "test", ConfigPath: f.ConfigPath(), LogDir: f.LogDir(), ManagedKeys: f.managed}
}
