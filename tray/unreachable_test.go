package tray

import (
	"testing"

	"orionbridge/app"
	"orionbridge/app/apptest"
	"orionbridge/config"
)

// A tray attached to a service whose bridge stops answering says so: the
// status line and the Sessions tab say "not reachable", and the Settings
// tab keeps the last config it had instead of an empty one.
func TestTrayShowsAnUnreachableService(t *testing.T) {
	in := apptest.StartInstance(t, func(c *config.Config) { c.AllowedOrigins = []string{editorOrigin} })
	in.SetMode("headless") // a service, as the tray finds one
	r, err := app.Attach(in.RunningConfig(), in.Bridge.Port())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	h := newHarness(t, r)
	tray := h.desk.(*fakeTray)
	target := in.RunningConfig().Routes[0].Target
	h.eventually(t, "the tray shows the running service", func() bool {
		return tray.menu != nil && tray.menu.Items[0].Label != "Service not reachable" && h.model().Config.Routes[0].Target == target
	})

	if err := in.Stop(); err != nil { // the listener, and with it the control API, goes away
		t.Fatal(err)
	}
	h.dash.show(tabSessions)
	w := h.dash.window
	h.eventually(t, "the tray says the service is not reachable", func() bool {
		return tray.menu.Items[0].Label == "Service not reachable" && tray.icon == h.icons[iconStopped] &&
			shows(w, "The Orion Bridge service is not reachable")
	})
	if m := h.model(); len(m.Config.Routes) != 1 || m.Config.Routes[0].Target != target || m.Config.Port != in.RunningConfig().Port {
		t.Fatalf("the config shown while unreachable: %+v, want the last known one", m.Config)
	}
	h.dash.show(tabSettings)
	h.eventually(t, "the Settings tab keeps the route", func() bool { return shows(w, target) })

	// Back again: the status line follows.
	if err := in.Start(); err != nil {
		t.Fatal(err)
	}
	h.eventually(t, "the tray shows the service again", func() bool {
		return tray.menu.Items[0].Label != "Service not reachable"
	})
}
