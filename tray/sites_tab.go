package tray

import (
	"maps"
	"slices"
	"sync"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/lang"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"orionbridge/bridge"
	"orionbridge/config"
)

// sitesTab edits allowed_origins and denied_origins, and lists the consent
// questions waiting for an answer.
type sitesTab struct {
	t       *trayApp
	allowed []string
	denied  []string
	managed map[string]bool
	pending []*consentRequest
	// saveMu orders the saves: each edits the configuration the previous
	// one left, so quick clicks are neither lost nor applied out of order.
	saveMu sync.Mutex

	allowedList *widget.List
	deniedList  *widget.List
	pendingList *widget.List
	input       *widget.Entry
	add         *widget.Button
	inputErr    *widget.Label
	ask         *widget.Check
	askShown    bool // ask's state as last set from the config
	allowedCard *widget.Card
	deniedCard  *widget.Card
	note        *widget.Label
	content     fyne.CanvasObject
}

func newSitesTab(t *trayApp, _ *dashboard) *sitesTab {
	s := &sitesTab{t: t}
	s.allowedList = originList(&s.allowed, func() bool { return s.managed["allowed_origins"] }, func(origin string) {
		s.save(lang.X("sites.removed", "Removed {{.Origin}}", map[string]any{"Origin": origin}), func(c *config.Config) error {
			c.AllowedOrigins = without(c.AllowedOrigins, origin)
			return nil
		})
	})
	s.deniedList = originList(&s.denied, func() bool { return s.managed["denied_origins"] }, func(origin string) {
		s.save(lang.X("sites.may_ask_again", "{{.Origin}} may ask again", map[string]any{"Origin": origin}), func(c *config.Config) error {
			c.DeniedOrigins = without(c.DeniedOrigins, origin)
			return nil
		})
	})
	s.pendingList = widget.NewList(
		func() int { return len(s.pending) },
		func() fyne.CanvasObject {
			origin := widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
			origin.Truncation = fyne.TextTruncateEllipsis
			asked := hintLabel("")
			once := widget.NewButton(lang.X("consent.allow_once", "Allow once"), nil)
			once.Importance = widget.HighImportance
			buttons := container.NewHBox(asked, once, widget.NewButton(lang.X("consent.always_allow", "Always allow"), nil),
				widget.NewButton(lang.X("consent.deny", "Deny"), nil))
			return container.NewBorder(nil, nil, nil, buttons, origin)
		},
		func(id widget.ListItemID, o fyne.CanvasObject) {
			if id < 0 || id >= len(s.pending) {
				return
			}
			r := s.pending[id]
			row := o.(*fyne.Container)
			row.Objects[0].(*widget.Label).SetText(r.Origin)
			buttons := row.Objects[1].(*fyne.Container).Objects
			buttons[0].(*widget.Label).SetText(lang.X("sites.asked_ago", "asked {{.Duration}} ago", map[string]any{"Duration": formatDuration(time.Since(r.Asked))}))
			for i, a := range []bridge.ConsentAnswer{bridge.AllowOnce, bridge.AlwaysAllow, bridge.Deny} {
				buttons[i+1].(*widget.Button).OnTapped = func() { s.t.consent.Answer(r.Origin, a) }
			}
		},
	)

	s.input = widget.NewEntry()
	s.input.SetPlaceHolder("https://editor.example.com or https://*.example.com")
	s.input.OnSubmitted = func(string) { s.addOrigin() }
	s.add = widget.NewButtonWithIcon(lang.X("sites.allow", "Allow"), theme.ContentAddIcon(), s.addOrigin)
	s.inputErr = widget.NewLabel("")
	s.inputErr.Importance = widget.DangerImportance
	s.inputErr.Wrapping = fyne.TextWrapWord
	s.inputErr.Hide()
	s.ask = widget.NewCheck(lang.X("sites.ask", "Ask me when a site that is in neither list wants to connect"), func(on bool) {
		if on == s.askShown {
			return // set from the config, not by the operator
		}
		s.askShown = on
		s.save(lang.X("sites.saved", "Saved"), func(c *config.Config) error {
			c.AskUnknownOrigins = on
			return nil
		})
	})
	s.note = hintLabel("")

	addRow := container.NewBorder(nil, nil, nil, s.add, s.input)
	s.allowedCard = widget.NewCard(lang.X("sites.allowed", "Allowed sites"), allowedHint(),
		container.NewBorder(container.NewVBox(addRow, s.inputErr), nil, nil, nil, s.allowedList))
	s.deniedCard = widget.NewCard(lang.X("sites.denied", "Denied sites"), deniedHint(), s.deniedList)
	pendingCard := widget.NewCard(lang.X("sites.pending", "Waiting for your answer"),
		lang.X("sites.pending_hint", "Sites asking to connect right now."), s.pendingList)
	s.content = container.NewBorder(nil, container.NewBorder(nil, nil, s.ask, s.note), nil, nil,
		container.NewGridWithColumns(2, s.allowedCard, container.NewGridWithRows(2, pendingCard, s.deniedCard)))
	return s
}

func allowedHint() string {
	return lang.X("sites.allowed_hint", "Pages on these sites may connect without asking.")
}

func deniedHint() string {
	return lang.X("sites.denied_hint", "Refused without asking. Remove a site to be asked again.")
}

func managedHint() string {
	return lang.X("sites.managed_hint", "Set by your IT department in the machine-wide configuration.")
}

// originList lists *origins with a Remove button per row that calls
// remove, disabled while readOnly says so.
func originList(origins *[]string, readOnly func() bool, remove func(origin string)) *widget.List {
	return widget.NewList(
		func() int { return len(*origins) },
		func() fyne.CanvasObject {
			l := widget.NewLabel("")
			l.Truncation = fyne.TextTruncateEllipsis
			return container.NewBorder(nil, nil, nil, widget.NewButtonWithIcon(lang.X("sites.remove", "Remove"), theme.DeleteIcon(), nil), l)
		},
		func(id widget.ListItemID, o fyne.CanvasObject) {
			if id < 0 || id >= len(*origins) {
				return
			}
			origin := (*origins)[id]
			row := o.(*fyne.Container)
			row.Objects[0].(*widget.Label).SetText(origin)
			b := row.Objects[1].(*widget.Button)
			b.OnTapped = func() { remove(origin) }
			if readOnly() {
				b.Disable()
			} else {
				b.Enable()
			}
		},
	)
}

// refresh shows the lists from the configuration in force and the open
// questions.
func (s *sitesTab) refresh(m model) {
	if !maps.Equal(s.managed, m.Managed) {
		s.managed = m.Managed
		s.applyManaged()
	}
	if !slices.Equal(s.allowed, m.Config.AllowedOrigins) {
		s.allowed = slices.Clone(m.Config.AllowedOrigins)
		s.allowedList.Refresh()
	}
	if !slices.Equal(s.denied, m.Config.DeniedOrigins) {
		s.denied = slices.Clone(m.Config.DeniedOrigins)
		s.deniedList.Refresh()
	}
	if s.askShown != m.Config.AskUnknownOrigins || s.ask.Checked != m.Config.AskUnknownOrigins {
		s.askShown = m.Config.AskUnknownOrigins
		s.ask.SetChecked(m.Config.AskUnknownOrigins)
	}
	// Refreshed every second while non-empty for the "asked … ago" text.
	pending := s.t.consent.Pending()
	if len(pending) > 0 || len(s.pending) > 0 {
		s.pending = pending
		s.pendingList.Refresh()
	}
}

// applyManaged makes what IT sets read-only, and says so.
func (s *sitesTab) applyManaged() {
	hint := func(key, own string) string {
		if s.managed[key] {
			return managedHint()
		}
		return own
	}
	s.allowedCard.SetSubTitle(hint("allowed_origins", allowedHint()))
	s.deniedCard.SetSubTitle(hint("denied_origins", deniedHint()))
	for key, w := range map[string][]fyne.Disableable{"allowed_origins": {s.input, s.add}, "ask_unknown_origins": {s.ask}} {
		for _, d := range w {
			if s.managed[key] {
				d.Disable()
			} else {
				d.Enable()
			}
		}
	}
	s.allowedList.Refresh()
	s.deniedList.Refresh()
}

// addOrigin validates the typed origin and saves it as allowed.
func (s *sitesTab) addOrigin() {
	if _, err := allowOrigin(s.t.model().Config, s.input.Text); err != nil {
		s.showInputError(err)
		return
	}
	input := s.input.Text
	s.showInputError(nil)
	s.save(lang.X("sites.allowed_done", "Allowed"), func(c *config.Config) error {
		next, err := allowOrigin(*c, input)
		*c = next
		return err
	})
	s.input.SetText("")
}

func (s *sitesTab) showInputError(err error) {
	if err == nil {
		s.inputErr.Hide()
		return
	}
	s.inputErr.SetText(err.Error())
	s.inputErr.Show()
}

// save changes the configuration in force with edit and applies it through
// the controller, which writes the config file.
func (s *sitesTab) save(done string, edit func(*config.Config) error) {
	s.note.Importance = widget.MediumImportance
	s.note.SetText(lang.X("settings.saving", "Saving…"))
	s.t.spawn(func() {
		s.saveMu.Lock()
		// Never onto an empty config: an unreachable service is an error.
		cfg, err := s.t.ctrl.Config(s.t.ctx)
		if err == nil {
			err = edit(&cfg)
		}
		if err == nil {
			err = s.t.ctrl.ApplyConfig(cfg)
		}
		s.t.refreshSnapshot()
		s.saveMu.Unlock()
		s.t.ui(func() {
			if err != nil {
				s.note.Importance = widget.DangerImportance
				s.note.SetText(lang.X("settings.not_saved", "Not saved: {{.Error}}", map[string]any{"Error": err.Error()}))
				return
			}
			s.note.Importance = widget.MediumImportance
			s.note.SetText(lang.X("settings.saved_to", "{{.Done}} · saved to {{.Path}}", map[string]any{"Done": done, "Path": s.t.model().Info.ConfigPath}))
			s.t.refreshUI()
		})
	})
}
