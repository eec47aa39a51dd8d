package tray

import (
	"cmp"
	"fmt"
	"maps"
	"orionbridge/config"
	"slices"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/lang"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// settingsWidth keeps the form readable on a wide window: host:port and
// durations are short.
const settingsWidth = 720

// settingsTab edits the port, the routes' targets, framing and line
// ending, and the limits. It validates with the config file's rules and saves through the
// controller, which applies the change without a restart.
type settingsTab struct {
	t       *trayApp
	routes  []string        // the routes' paths when the form was filled
	managed map[string]bool // the keys IT set when the form was filled
	saving  bool

	port       *widget.Entry
	targets    []*widget.Entry
	framings   []*widget.Select
	endings    []*widget.Select // a lines route's line_ending; disabled otherwise
	maxClients *widget.Entry
	maxMessage *widget.Entry
	ping       *widget.Entry
	pong       *widget.Entry
	errs       map[string]*widget.Label // config key → its error line
	general    *widget.Label
	note       *widget.Label
	save       *widget.Button
	revert     *widget.Button
	formHolder *fyne.Container
	content    fyne.CanvasObject
}

func newSettingsTab(t *trayApp, _ *dashboard) *settingsTab {
	s := &settingsTab{t: t}
	s.general = errorLabel()
	s.note = hintLabel("")
	s.save = widget.NewButtonWithIcon(lang.X("settings.save", "Save and Apply"), theme.DocumentSaveIcon(), s.saveForm)
	s.save.Importance = widget.HighImportance
	s.revert = widget.NewButtonWithIcon(lang.X("settings.revert", "Revert"), theme.ContentUndoIcon(), func() { s.load(s.t.model().Config, s.managed) })
	s.formHolder = container.NewStack()
	m := t.model()
	s.load(m.Config, m.Managed)
	buttons := container.NewHBox(s.save, s.revert, s.note)
	body := container.NewVBox(s.formHolder, s.general, buttons)
	s.content = container.NewVScroll(container.New(&maxWidthLayout{width: settingsWidth}, body))
	return s
}

// errorLabel is the red line under a field, hidden while empty.
func errorLabel() *widget.Label {
	l := widget.NewLabel("")
	l.Importance = widget.DangerImportance
	l.Wrapping = fyne.TextWrapWord
	l.Hide()
	return l
}

// load fills the form from cfg and clears the errors. Fields for the keys
// in managed are read-only: IT sets them in the machine-wide config.
func (s *settingsTab) load(cfg config.Config, managed map[string]bool) {
	f := settingsFromConfig(cfg)
	s.routes = s.routes[:0]
	s.managed = managed
	s.errs = map[string]*widget.Label{}
	field := func(key, value string) *widget.Entry {
		e := widget.NewEntry()
		e.SetText(value)
		s.errs[key] = errorLabel()
		return e
	}
	// item is a form row for the top-level key; managed rows are disabled
	// and say who sets them instead of the hint.
	item := func(label, key string, input fyne.CanvasObject, errLine *widget.Label, hint string, disable ...fyne.Disableable) *widget.FormItem {
		if managed[key] {
			for _, d := range disable {
				d.Disable()
			}
			hint = managedHint()
		}
		return formItem(label, input, errLine, hint)
	}
	s.port = field("port", f.Port)
	items := []*widget.FormItem{
		item(lang.X("settings.port", "Port"), "port", s.port, s.errs["port"],
			lang.X("settings.port_hint", "Pages connect to wss://localhost:PORT. Changing it restarts the listener and closes open sessions."), s.port),
	}
	s.targets, s.framings, s.endings = nil, nil, nil
	for i, r := range f.Routes {
		s.routes = append(s.routes, r.Path)
		key := fmt.Sprintf("routes[%d]", i)
		target := field(key+".target", r.Target)
		ending := widget.NewSelect(lineEndings, nil)
		ending.SetSelected(cmp.Or(r.LineEnding, "lf"))
		framing := widget.NewSelect(framings, nil)
		// Only lines routes have a line ending; the choice shows, greyed,
		// what it would be.
		framing.OnChanged = func(v string) {
			if v == "lines" && !managed["routes"] {
				ending.Enable()
			} else {
				ending.Disable()
			}
		}
		framing.SetSelected(r.Framing)
		// One line shows a problem with the target, the framing or the line ending.
		s.errs[key+".framing"] = s.errs[key+".target"]
		s.errs[key+".line_ending"] = s.errs[key+".target"]
		s.targets, s.framings, s.endings = append(s.targets, target), append(s.framings, framing), append(s.endings, ending)
		items = append(items, item(lang.X("settings.route", "Route {{.Path}}", map[string]any{"Path": r.Path}), "routes", container.NewBorder(nil, nil, nil, container.NewHBox(framing, ending), target), s.errs[key+".target"],
			lang.X("settings.route_hint", "The report engine's host:port, how messages map to its TCP stream, and for lines how lines end (crlf: \\r\\n, as Redis, memcached and many Windows servers)."),
			target, framing, ending))
	}
	s.maxClients = field("max_clients", f.MaxClients)
	s.maxMessage = field("max_message_bytes", f.MaxMessageBytes)
	s.ping = field("ping_interval", f.PingInterval)
	s.pong = field("pong_timeout", f.PongTimeout)
	items = append(items,
		item(lang.X("settings.max_clients", "Max clients"), "max_clients", s.maxClients, s.errs["max_clients"],
			lang.X("settings.max_clients_hint", "Sessions open at once; more are refused with HTTP 503."), s.maxClients),
		item(lang.X("settings.max_message", "Max message size"), "max_message_bytes", s.maxMessage, s.errs["max_message_bytes"],
			lang.X("settings.max_message_hint", "The largest message either way, e.g. \"16 MiB\"; larger ones close the session with 1009."), s.maxMessage),
		item(lang.X("settings.ping", "Ping interval"), "ping_interval", s.ping, s.errs["ping_interval"],
			lang.X("settings.ping_hint", "How often the bridge pings the browser, e.g. \"30s\"."), s.ping),
		item(lang.X("settings.pong", "Pong timeout"), "pong_timeout", s.pong, s.errs["pong_timeout"],
			lang.X("settings.pong_hint", "A browser silent this long is disconnected; more than the ping interval."), s.pong),
	)
	s.formHolder.Objects = []fyne.CanvasObject{widget.NewForm(items...)}
	s.formHolder.Refresh()
	s.general.Hide()
	s.note.SetText(lang.X("settings.saved_in", "Saved in {{.Path}}", map[string]any{"Path": s.t.model().Info.ConfigPath}))
}

// formItem is a field with its error line under it, and a hint.
func formItem(label string, input fyne.CanvasObject, errLine *widget.Label, hint string) *widget.FormItem {
	item := widget.NewFormItem(label, container.NewVBox(input, errLine))
	item.HintText = hint
	return item
}

// form reads the fields.
func (s *settingsTab) form() settingsForm {
	f := settingsForm{
		Port:            s.port.Text,
		MaxClients:      s.maxClients.Text,
		MaxMessageBytes: s.maxMessage.Text,
		PingInterval:    s.ping.Text,
		PongTimeout:     s.pong.Text,
	}
	for i, path := range s.routes {
		r := routeFields{Path: path, Target: s.targets[i].Text, Framing: s.framings[i].Selected}
		if r.Framing == "lines" {
			r.LineEnding = s.endings[i].Selected
		}
		f.Routes = append(f.Routes, r)
	}
	return f
}

// showErrors puts each problem under its field.
func (s *settingsTab) showErrors(errs fieldErrors) {
	for key, l := range s.errs {
		if msg, ok := errs[key]; ok {
			l.SetText(msg)
			l.Show()
		} else if !slices.ContainsFunc(sharedKeys(key), func(k string) bool { _, ok := errs[k]; return ok }) {
			l.Hide()
		}
	}
	if msg, ok := errs[""]; ok {
		s.general.SetText(msg)
		s.general.Show()
	} else {
		s.general.Hide()
	}
}

// routeLineKeys are the keys of a route that share its one error line.
var routeLineKeys = []string{".target", ".framing", ".line_ending"}

// sharedKeys are the other keys of a route's shared error line; none for
// a key with a line of its own.
func sharedKeys(key string) []string {
	for _, suffix := range routeLineKeys {
		if route, ok := strings.CutSuffix(key, suffix); ok && route != "" {
			var others []string
			for _, o := range routeLineKeys {
				if o != suffix {
					others = append(others, route+o)
				}
			}
			return others
		}
	}
	return nil
}

// saveForm validates and, when the form is valid, applies it.
func (s *settingsTab) saveForm() {
	if s.saving {
		return
	}
	form := s.form()
	_, errs := form.apply(s.t.model().Config)
	s.showErrors(errs)
	if len(errs) > 0 {
		s.note.SetText(lang.X("settings.fix_red", "Not saved: fix the fields in red"))
		return
	}
	s.saving = true
	s.save.Disable()
	s.note.SetText(lang.X("settings.applying", "Applying…"))
	s.t.spawn(func() {
		// Onto the configuration in force now, not as it was a second ago:
		// the Sites tab or a consent answer may just have changed it.
		running, err := s.t.ctrl.Config(s.t.ctx)
		errs := configFieldError(err) // the service did not answer: the form's general error
		if err == nil {
			var cfg config.Config
			cfg, errs = form.apply(running)
			if len(errs) == 0 {
				err = s.t.ctrl.ApplyConfig(cfg)
				errs = configFieldError(err)
			}
		}
		s.t.refreshSnapshot()
		kick(s.t.kickHealth)
		s.t.ui(func() {
			s.saving = false
			s.save.Enable()
			if err != nil || len(errs) > 0 {
				s.showErrors(errs)
				s.note.SetText(lang.X("settings.not_saved_plain", "Not saved"))
				return
			}
			m := s.t.model()
			s.load(m.Config, s.managed)
			s.note.SetText(lang.X("settings.saved_applied", "Saved to {{.Path}} and applied", map[string]any{"Path": m.Info.ConfigPath}))
			s.t.refreshUI()
		})
	})
}

// refresh reloads the form when the routes changed elsewhere (the config
// file edited and applied), since the form shows one line per route, or
// when IT started or stopped managing a key.
func (s *settingsTab) refresh(m model) {
	paths := make([]string, len(m.Config.Routes))
	for i, r := range m.Config.Routes {
		paths[i] = r.Path
	}
	if !s.saving && (!slices.Equal(paths, s.routes) || !maps.Equal(m.Managed, s.managed)) {
		s.load(m.Config, m.Managed)
	}
}

// maxWidthLayout gives its objects the available width up to width, from
// the left edge.
type maxWidthLayout struct{ width float32 }

func (l *maxWidthLayout) Layout(objects []fyne.CanvasObject, size fyne.Size) {
	w := min(size.Width, max(l.width, l.MinSize(objects).Width))
	for _, o := range objects {
		o.Resize(fyne.NewSize(w, size.Height))
		o.Move(fyne.NewPos(0, 0))
	}
}

func (l *maxWidthLayout) MinSize(objects []fyne.CanvasObject) fyne.Size {
	var s fyne.Size
	for _, o := range objects {
		s = s.Max(o.MinSize())
	}
	return s
}
