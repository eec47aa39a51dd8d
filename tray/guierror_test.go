package tray

import (
	"errors"
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"orionbridge/app"
)

// panickyTray is a tray whose driver panics, as Fyne's GLFW driver does
// at its first window when there is no usable OpenGL or desktop (under
// Wine without an X display: "PlatformError: Win32: Failed to create
// helper window", then glfw.CreateStandardCursor panics).
type panickyTray struct {
	fakeTray
	menu, icon bool // which call panics
}

func (p *panickyTray) SetSystemTrayMenu(m *fyne.Menu) {
	if p.menu {
		panic("NotInitialized: The GLFW library is not initialized")
	}
	p.fakeTray.SetSystemTrayMenu(m)
}

func (p *panickyTray) SetSystemTrayIcon(r fyne.Resource) {
	if p.icon {
		panic("NotInitialized: The GLFW library is not initialized")
	}
	p.fakeTray.SetSystemTrayIcon(r)
}

// A driver that panics while the UI starts must not crash the process:
// run returns a *GUIError, the bridge is left running (no Stop), the
// consent hook and the dashboard hook are released, and every goroutine
// of the UI has ended (goleak, TestMain).
func TestRunRecoversFromADriverPanic(t *testing.T) {
	tests := map[string]*panickyTray{
		"tray menu": {menu: true},
		"tray icon": {icon: true},
	}
	for name, desk := range tests {
		t.Run(name, func(t *testing.T) {
			ctrl := newFakeController()
			tr := newTrayApp(ctrl, test.NewTempApp(t), func(f func()) {}, "test")
			tr.desk, tr.onTrayTapped = desk, desk.setOnTapped
			var show func()
			hooked := false
			opts := app.UIOptions{Version: "test", Quit: t.Context(), OnShowDashboard: func(f func()) { show, hooked = f, true }}

			err := tr.run(opts)

			var gui *GUIError
			if !errors.As(err, &gui) {
				t.Fatalf("run returned %v (%T), want a *GUIError", err, err)
			}
			var unavailable interface{ GUIUnavailable() bool }
			if !errors.As(err, &unavailable) || !unavailable.GUIUnavailable() {
				t.Errorf("%v does not say GUIUnavailable, which cli looks for", err)
			}
			if !strings.Contains(err.Error(), "GLFW library is not initialized") || !strings.Contains(gui.Stack, "panickyTray") {
				t.Errorf("error %q, stack:\n%s", err, gui.Stack)
			}
			ctrl.mu.Lock()
			stops, consent := ctrl.stops, ctrl.consent
			ctrl.mu.Unlock()
			if stops != 0 {
				t.Errorf("the bridge was stopped %d times: the headless fallback needs it running", stops)
			}
			if consent != nil {
				t.Error("the consent prompt is still hooked to the bridge: sessions would wait for a window that never shows")
			}
			if hooked && show != nil {
				t.Error("a second start would still be sent to a dashboard that cannot show")
			}
			if !tr.closed.Load() {
				t.Error("the UI is not marked closed")
			}
		})
	}
}
