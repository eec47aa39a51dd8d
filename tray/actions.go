package tray

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/lang"
	"fyne.io/fyne/v2/widget"

	"orionbridge/app"
	"orionbridge/autostart"
	"orionbridge/certs"
)

// action returns the code behind a menu action. Each runs on the UI
// goroutine; whatever may block (the controller's Start, Stop, trust and
// renewal) goes to a goroutine and reports back through t.ui.
func (t *trayApp) action(a trayAction) func() {
	switch a {
	case actionOpenDashboard:
		return func() { t.dashboard().show("") }
	case actionToggleBridge:
		return t.toggleBridge
	case actionCopyEndpoint:
		return func() { t.app.Clipboard().SetContent(t.model().Status.endpointURL()) }
	case actionOpenDiagnostics:
		return func() { t.openURL(t.model().Status.diagnosticsURL()) }
	case actionTrustCertificate:
		return func() {
			d := t.dashboard()
			d.show(tabCertificate)
			d.cert.confirmTrust()
		}
	case actionRenewCertificate:
		return t.renewCertificate
	case actionStartAtLogin:
		return t.toggleStartAtLogin
	case actionExportBundle:
		return t.exportSupportBundle
	case actionOpenLogs:
		return func() { t.openURL((&url.URL{Scheme: "file", Path: t.model().Info.LogDir}).String()) }
	case actionAbout:
		return t.showAbout
	case actionQuit:
		return t.quit
	}
	return nil
}

// toggleBridge starts a stopped bridge or stops a running one (sessions get
// 1001 "bridge shutting down").
func (t *trayApp) toggleBridge() {
	m := t.model()
	if m.Busy {
		return
	}
	t.setBusy(true, "")
	running := m.Status.Running
	if running {
		t.consent.dropAll()
	}
	t.spawn(func() {
		var err error
		if running {
			err = t.ctrl.Stop()
		} else {
			err = t.ctrl.Start()
		}
		msg := ""
		if err != nil {
			msg = err.Error()
		}
		t.setBusy(false, msg)
		kick(t.kickSnapshot)
		kick(t.kickHealth)
	})
}

// quit stops the bridge gracefully (unless it is a service), then ends the
// Fyne loop; Run stops it again (a no-op) in case the loop ended some other
// way.
func (t *trayApp) quit() {
	t.setBusy(true, "")
	t.consent.close()
	t.spawn(func() {
		if t.ownsBridge() {
			_ = t.ctrl.Stop() // Run reports a failure to stop
		}
		t.ui(t.app.Quit)
	})
}

func (t *trayApp) renewCertificate() {
	t.spawn(func() {
		err := t.ctrl.RenewCertificate()
		kick(t.kickCert)
		t.ui(func() {
			if err != nil {
				d := t.dashboard()
				d.show(tabCertificate)
				dialog.ShowError(fmt.Errorf("%s: %w", lang.X("error.renew", "renew certificate"), err), d.window)
			}
		})
	})
}

// trustCertificate installs the CA in the user's stores and shows what
// happened in each.
func (t *trayApp) trustCertificate() {
	t.spawn(func() {
		results, err := t.ctrl.TrustCertificate()
		kick(t.kickCert)
		t.ui(func() { t.dashboard().cert.showTrustResults(results, err) })
	})
}

func (t *trayApp) openURL(s string) {
	u, err := url.Parse(s)
	if err == nil {
		err = t.app.OpenURL(u)
	}
	if err != nil {
		d := t.dashboard()
		d.show("")
		dialog.ShowError(fmt.Errorf("%s: %w", lang.X("error.open", "open {{.URL}}", map[string]any{"URL": s}), err), d.window)
	}
}

// showAbout opens (or raises) the About window.
func (t *trayApp) showAbout() {
	if t.about != nil {
		t.about.RequestFocus()
		return
	}
	m := t.model()
	w := t.app.NewWindow(lang.X("about.title", "About Orion Bridge"))
	title := widget.NewLabelWithStyle("Orion Bridge "+t.version, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	blurb := widget.NewLabel(lang.X("about.blurb", "Connects the Orion Report Editor in your browser to the report engine on this computer."))
	blurb.Wrapping = fyne.TextWrapWord
	form := widget.NewForm(
		widget.NewFormItem(lang.X("about.endpoint", "Endpoint"), selectableText(m.Status.endpointURL())),
		widget.NewFormItem(lang.X("about.configuration", "Configuration"), selectableText(m.Info.ConfigPath)),
		widget.NewFormItem(lang.X("about.logs", "Logs"), selectableText(m.Info.LogDir)),
	)
	w.SetContent(container.NewPadded(container.NewVBox(title, blurb, form)))
	w.SetOnClosed(func() { t.about = nil })
	w.Resize(fyne.NewSize(520, 0))
	w.CenterOnScreen()
	t.about = w
	w.Show()
}

// selectableText is read-only text the operator can select and copy, such
// as a path to give to support.
func selectableText(s string) fyne.CanvasObject {
	l := widget.NewLabel(s)
	l.Selectable = true
	l.Truncation = fyne.TextTruncateEllipsis
	return l
}

// trustSummary says in one line per store what Install did.
func trustSummary(results []certs.StoreResult) string {
	var b strings.Builder
	for _, r := range results {
		fmt.Fprintf(&b, "%s: %s", r.Name, r.Action)
		if r.Detail != "" {
			b.WriteString(" (" + r.Detail + ")")
		}
		if r.Err != nil {
			b.WriteString(": " + r.Err.Error())
		}
		b.WriteByte('\n')
	}
	return strings.TrimSpace(b.String())
}

// toggleStartAtLogin switches the login item (XDG autostart, HKCU Run or a
// LaunchAgent) for this user.
func (t *trayApp) toggleStartAtLogin() {
	want := !t.model().Status.AtLogin
	t.spawn(func() {
		if err := autostart.Set(want); err != nil {
			t.ui(func() {
				dialog.ShowError(fmt.Errorf("%s: %w", lang.X("error.start_at_login", "start at login"), err), t.dashboard().window)
			})
		}
		on, _ := autostart.Enabled()
		t.mu.Lock()
		t.status.AtLogin = on
		t.mu.Unlock()
		t.queueRefresh()
	})
}

// exportSupportBundle asks where to save the zip IT asks for, then writes
// it off the UI goroutine (it reads the logs and may ask a service).
func (t *trayApp) exportSupportBundle() {
	t.dashboard().show("")
	d := dialog.NewFileSave(func(w fyne.URIWriteCloser, err error) {
		if err != nil || w == nil {
			return // cancelled
		}
		t.spawn(func() {
			werr := app.WriteSupportBundle(t.ctx, w, t.ctrl)
			if cerr := w.Close(); werr == nil {
				werr = cerr
			}
			t.ui(func() {
				if werr != nil {
					dialog.ShowError(fmt.Errorf("%s: %w", lang.X("error.export_bundle", "export support bundle"), werr), t.dashboard().window)
					return
				}
				dialog.ShowInformation(lang.X("bundle.saved", "Support bundle saved"), w.URI().Path(), t.dashboard().window)
			})
		})
	}, t.dashboard().window)
	d.SetFileName("OrionBridge-support-" + time.Now().Format("2006-01-02") + ".zip")
	d.Show()
}
