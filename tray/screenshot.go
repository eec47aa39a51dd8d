//go:build screenshots

package tray

import (
	"context"
	"errors"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/driver/software"
	"fyne.io/fyne/v2/widget"
)

// Screenshots for the README (`make screenshots`, tray/screenshots.sh). This
// file is built only with -tags screenshots, so the shipped app carries no
// tooling that an environment variable switches on. With
// ORION_SCREENSHOTS=<dir>, Run opens the dashboard, waits for the
// sessions the script opens, writes sessions.png, log.png and menu.png (the
// tray menu, drawn as Fyne draws a menu: the real one is the desktop's),
// then waits for the consent prompt the script triggers, writes
// consent.png, and quits. ORION_SCREENSHOTS_SUFFIX=-ko names them
// sessions-ko.png and so on, for the run in another language.
const (
	screenshotsEnv = "ORION_SCREENSHOTS"
	// screenshotSessionsEnv is how many sessions to wait for (default 3).
	screenshotSessionsEnv = "ORION_SCREENSHOTS_SESSIONS"
	// screenshotAllEnv, when set, adds sites.png, settings.png and
	// certificate.png, for reviewing those tabs.
	screenshotAllEnv = "ORION_SCREENSHOTS_ALL"
	// screenshotSuffixEnv goes between each file's name and ".png".
	screenshotSuffixEnv = "ORION_SCREENSHOTS_SUFFIX"
	// screenshotWait bounds each wait, so a broken setup fails instead of
	// hanging `make screenshots`.
	screenshotWait = 60 * time.Second
	// paintDelay lets the GL driver draw a changed window before capture.
	paintDelay = 1500 * time.Millisecond
)

// screenshots captures the dashboard's tabs and the consent prompt.
type screenshots struct {
	t    *trayApp
	dir  string
	want int

	mu   sync.Mutex
	errs []error
}

// startScreenshots starts taking screenshots when ORION_SCREENSHOTS names a
// folder; nil otherwise.
func startScreenshots(ctx context.Context, t *trayApp) *screenshots {
	dir := os.Getenv(screenshotsEnv)
	if dir == "" {
		return nil
	}
	s := newScreenshots(t, dir)
	t.spawn(func() { s.run(ctx) })
	return s
}

func newScreenshots(t *trayApp, dir string) *screenshots {
	want, err := strconv.Atoi(os.Getenv(screenshotSessionsEnv))
	if err != nil || want < 0 {
		want = 3
	}
	return &screenshots{t: t, dir: dir, want: want}
}

func (s *screenshots) fail(err error) {
	s.mu.Lock()
	s.errs = append(s.errs, err)
	s.mu.Unlock()
	fmt.Fprintln(os.Stderr, "orionbridge: screenshots:", err)
}

// err is what went wrong; nil for a nil s (no screenshots taken).
func (s *screenshots) err() error {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return errors.Join(s.errs...)
}

// run takes the screenshots, then quits the app whatever happened.
func (s *screenshots) run(ctx context.Context) {
	defer s.t.ui(s.t.quit)
	if err := os.MkdirAll(s.dir, 0o755); err != nil {
		s.fail(err)
		return
	}
	s.t.ui(func() { s.t.dashboard().show(tabSessions) })
	if !waitFor(ctx, func() bool { return len(s.t.model().Snap.Sessions) >= s.want }) {
		s.fail(fmt.Errorf("fewer than %d sessions after %s", s.want, screenshotWait))
		return
	}
	// Let the counters and durations move, and show a selected session with
	// its Disconnect button enabled.
	sleep(ctx, 5*time.Second)
	s.t.ui(func() {
		d := s.t.dashboard()
		d.show(tabSessions)
		// The newest session: the script's first one ends early.
		d.sessions.table.Select(widget.TableCellID{Row: len(d.sessions.rows) - 1, Col: 0})
	})
	s.capture(ctx, "sessions.png", func() fyne.Window { return s.t.dash.window })
	s.t.ui(func() { s.t.dashboard().show(tabLog) })
	s.capture(ctx, "log.png", func() fyne.Window { return s.t.dash.window })
	var menuWindow fyne.Window
	s.t.ui(func() { menuWindow = s.t.menuWindow() })
	s.capture(ctx, "menu.png", func() fyne.Window { return menuWindow })
	s.t.ui(func() {
		if menuWindow != nil {
			menuWindow.Close()
		}
	})
	if os.Getenv(screenshotAllEnv) != "" {
		for _, tab := range []string{tabSites, tabSettings, tabCertificate} {
			s.t.ui(func() { s.t.dashboard().show(tab) })
			s.capture(ctx, strings.ToLower(tab)+".png", func() fyne.Window { return s.t.dash.window })
		}
	}

	if !waitFor(ctx, func() bool { return len(s.t.consent.Pending()) > 0 }) {
		s.fail(fmt.Errorf("no consent prompt after %s", screenshotWait))
		return
	}
	s.capture(ctx, "consent.png", s.t.consent.openWindow)
}

// capture waits for a frame to be painted, then writes window's canvas.
func (s *screenshots) capture(ctx context.Context, name string, window func() fyne.Window) {
	sleep(ctx, paintDelay)
	shot := make(chan image.Image, 1)
	s.t.ui(func() {
		var img image.Image
		if w := window(); w != nil {
			img = captureWindow(w)
		}
		shot <- img
	})
	var img image.Image
	select {
	case img = <-shot:
	case <-ctx.Done():
		return
	case <-time.After(screenshotWait):
	}
	if img == nil {
		s.fail(fmt.Errorf("%s: no window to capture", name))
		return
	}
	path := filepath.Join(s.dir, strings.TrimSuffix(name, ".png")+os.Getenv(screenshotSuffixEnv)+".png")
	f, err := os.Create(path)
	if err == nil {
		err = png.Encode(f, img)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		s.fail(fmt.Errorf("write %s: %w", path, err))
		return
	}
	fmt.Fprintf(os.Stderr, "orionbridge: screenshots: wrote %s (%dx%d)\n", path, img.Bounds().Dx(), img.Bounds().Dy())
}

// menuWindow shows the tray menu as it is now, with its Certificate
// submenu open, in a window of its own: the tray's menu is drawn by the
// desktop (StatusNotifierItem over D-Bus), which no screenshot of the app
// can take. Fyne draws the same items, labels and check marks.
func (t *trayApp) menuWindow() fyne.Window {
	m := t.model()
	items := t.fyneMenuItems(trayMenu(m.Status, m.Busy, m.Info.LogDir != ""))
	menu := widget.NewMenu(fyne.NewMenu("Orion Bridge", items...))
	var sub *widget.Menu
	for _, it := range items {
		if it.ChildMenu != nil {
			sub = widget.NewMenu(it.ChildMenu)
		}
	}
	content := fyne.CanvasObject(menu)
	if sub != nil {
		content = container.NewHBox(container.NewVBox(menu), container.NewVBox(sub))
	}
	w := t.app.NewWindow("Orion Bridge")
	w.SetPadded(false)
	w.SetContent(content)
	w.Resize(content.MinSize())
	w.Show()
	return w
}

// captureWindow returns what w shows. It asks the GL driver first; where
// that reads back nothing, as under Xvfb with Mesa (Fyne's Capture reads
// the front buffer, which there stays black), it draws the same widgets
// with Fyne's software painter at the window's size, padding and theme.
func captureWindow(w fyne.Window) image.Image {
	if img := w.Canvas().Capture(); img != nil && !blank(img) {
		return img
	}
	content := w.Content()
	c := software.NewCanvas()
	c.SetPadded(w.Padded())
	c.SetContent(content)
	c.Resize(w.Canvas().Size())
	img := c.Capture()
	w.SetContent(content) // give the widgets back to their window
	return img
}

// blank reports whether every pixel of img is fully black or transparent.
func blank(img image.Image) bool {
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y += 4 {
		for x := b.Min.X; x < b.Max.X; x += 4 {
			if r, g, bl, _ := img.At(x, y).RGBA(); r|g|bl != 0 {
				return false
			}
		}
	}
	return true
}

// waitFor polls cond until it holds, ctx ends or screenshotWait passes.
func waitFor(ctx context.Context, cond func() bool) bool {
	deadline := time.Now().Add(screenshotWait)
	for !cond() {
		if time.Now().After(deadline) || !sleep(ctx, 100*time.Millisecond) {
			return false
		}
	}
	return true
}

// sleep waits for d, or returns false early when ctx ends.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
