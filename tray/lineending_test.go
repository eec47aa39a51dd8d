package tray

import (
	"testing"

	"fyne.io/fyne/v2/test"

	"orionbridge/config"
)

// The Settings tab edits a lines route's line ending: offered only for
// lines, applied as chosen, dropped when the framing changes, and a problem
// with it shown on the route's line.
func TestSettingsTabLineEnding(t *testing.T) {
	ctrl := newFakeController()
	ctrl.cfg.Routes[0].Framing = "lines"
	h := newHarness(t, ctrl)
	h.dash.show(tabSettings)
	w := h.dash.window
	s := h.dash.settings
	if s.endings[0].Disabled() || s.endings[0].Selected != "lf" {
		t.Fatalf("a lines route without line_ending: choice %q, disabled %v; want lf, enabled", s.endings[0].Selected, s.endings[0].Disabled())
	}
	save := func(what string) config.Config {
		t.Helper()
		s.note.SetText("")
		test.Tap(findButton(t, w.Content(), "Save and Apply"))
		// Applied, and the form filled again from what was applied.
		h.eventually(t, what, func() bool { return shows(w, "and applied") })
		return ctrl.config()
	}

	s.endings[0].SetSelected("crlf")
	if got := save("crlf is applied").Routes[0]; got.Framing != "lines" || got.LineEnding != "crlf" {
		t.Errorf("applied %+v, want lines with crlf", got)
	}

	// Another framing takes no line ending: the choice greys out and the
	// saved route has none (it would not be valid).
	s.framings[0].SetSelected("raw")
	if !s.endings[0].Disabled() {
		t.Error("the line ending is editable on a raw route")
	}
	if got := save("raw is applied").Routes[0]; got.Framing != "raw" || got.LineEnding != "" {
		t.Errorf("applied %+v, want raw without a line ending", got)
	}

	// A refusal about the line ending is shown on the route's line.
	ctrl.applyFn = func(config.Config) error {
		return &config.Error{Key: "routes[0].line_ending", Problem: "refused for the test"}
	}
	s.framings[0].SetSelected("lines")
	test.Tap(findButton(t, w.Content(), "Save and Apply"))
	h.eventually(t, "the refusal is shown", func() bool { return s.errs["routes[0].target"].Visible() && shows(w, "refused for the test") })
}

// An unchanged form adds no line_ending the file did not have, and keeps
// one it had.
func TestSettingsFormLineEnding(t *testing.T) {
	for _, tt := range []struct {
		name, framing, had, chosen, want string
	}{
		{"lf by default stays implied", "lines", "", "lf", ""},
		{"lf written stays written", "lines", "lf", "lf", "lf"},
		{"crlf chosen", "lines", "", "crlf", "crlf"},
		{"raw takes none", "raw", "", "", ""},
		{"length-prefixed drops a left-over", "length-prefixed", "crlf", "crlf", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			base := config.Default()
			base.Routes[0].Framing, base.Routes[0].LineEnding = "lines", tt.had
			f := settingsFromConfig(base)
			f.Routes[0].Framing, f.Routes[0].LineEnding = tt.framing, tt.chosen
			got, errs := f.apply(base)
			if len(errs) > 0 {
				t.Fatalf("errors %v", errs)
			}
			if got.Routes[0].LineEnding != tt.want {
				t.Errorf("line_ending %q, want %q", got.Routes[0].LineEnding, tt.want)
			}
		})
	}
	if keys := sharedKeys("routes[2].line_ending"); len(keys) != 2 || keys[0] != "routes[2].target" || keys[1] != "routes[2].framing" {
		t.Errorf("sharedKeys = %q", keys)
	}
	if keys := sharedKeys("port"); keys != nil {
		t.Errorf("sharedKeys(port) = %q", keys)
	}
}
