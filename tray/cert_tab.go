package tray

import (
	"fmt"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/lang"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"orionbridge/app"
	"orionbridge/certs"
)

// storeColumns are the trust-store table's columns and their widths; the
// titles are functions, as the language is chosen after package init.
var storeColumns = []struct {
	Title func() string
	Width float32
}{
	{func() string { return lang.X("cert.column.store", "Trust store") }, 290},
	{func() string { return lang.X("cert.column.state", "State") }, 140},
	{func() string { return lang.X("cert.column.path", "Path") }, 300},
	{func() string { return lang.X("cert.column.detail", "Detail") }, 430},
}

// certTab shows the certificate, its trust in every store, and the Trust
// and Renew buttons.
type certTab struct {
	t     *trayApp
	d     *dashboard
	shown *app.CertificateReport // the report on screen, to skip identical redraws

	icon        *widget.Icon
	headline    *widget.Label
	fingerprint *widget.Label
	caExpires   *widget.Label
	leafExpires *widget.Label
	files       *widget.Label
	served      *widget.Label // which certificate is served, and why
	warnings    *widget.Label
	storeDetail *widget.Label // the selected store in full
	stores      []certs.StoreStatus
	table       *widget.Table
	trust       *widget.Button
	renew       *widget.Button
	content     fyne.CanvasObject
}

func newCertTab(t *trayApp, d *dashboard) *certTab {
	c := &certTab{t: t, d: d}
	c.icon = widget.NewIcon(theme.QuestionIcon())
	c.headline = widget.NewLabelWithStyle(lang.X("cert.checking", "Checking the trust stores…"), fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	c.fingerprint = widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Monospace: true})
	c.fingerprint.Selectable = true
	c.caExpires, c.leafExpires = widget.NewLabel(""), widget.NewLabel("")
	c.files = widget.NewLabel("")
	c.served = widget.NewLabel("")
	// One line, cut with an ellipsis: a wrapping label in a form asks for
	// the height of its text at its narrowest, which made the tab (and so
	// the window) thousands of pixels tall. The full reason is in `certs
	// status`.
	c.served.Truncation = fyne.TextTruncateEllipsis
	c.served.Selectable = true
	c.files.Selectable = true
	c.files.Truncation = fyne.TextTruncateEllipsis
	c.warnings = widget.NewLabel("")
	c.warnings.Importance = widget.WarningImportance
	c.warnings.Wrapping = fyne.TextWrapWord
	c.warnings.Hide()

	c.table = widget.NewTable(
		func() (int, int) { return len(c.stores), len(storeColumns) },
		func() fyne.CanvasObject {
			l := widget.NewLabel("")
			l.Truncation = fyne.TextTruncateEllipsis
			return l
		},
		func(id widget.TableCellID, o fyne.CanvasObject) {
			if id.Row < 0 || id.Row >= len(c.stores) {
				return
			}
			st, l := c.stores[id.Row], o.(*widget.Label)
			l.Importance = widget.MediumImportance
			switch id.Col {
			case 0:
				l.SetText(st.Name)
			case 1:
				if st.State == certs.StateTrusted {
					l.Importance = widget.SuccessImportance
				} else if st.Browser && st.State == certs.StateNotTrusted {
					l.Importance = widget.WarningImportance
				}
				l.SetText(string(st.State))
			case 2:
				l.SetText(orDash(st.Path))
			case 3:
				l.SetText(orDash(st.Detail))
			}
		},
	)
	c.table.ShowHeaderRow = true
	c.table.CreateHeader = func() fyne.CanvasObject {
		return widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	}
	c.table.UpdateHeader = func(id widget.TableCellID, o fyne.CanvasObject) {
		if id.Col >= 0 && id.Col < len(storeColumns) {
			o.(*widget.Label).SetText(storeColumns[id.Col].Title())
		}
	}
	for i, col := range storeColumns {
		c.table.SetColumnWidth(i, col.Width)
	}
	// Details and paths are long; the selected store's show in full below.
	c.storeDetail = widget.NewLabel(lang.X("cert.select_store", "Select a trust store to see its details in full."))
	c.storeDetail.Wrapping = fyne.TextWrapWord
	c.storeDetail.Selectable = true
	c.table.OnSelected = func(id widget.TableCellID) {
		if id.Row >= 0 && id.Row < len(c.stores) {
			st := c.stores[id.Row]
			c.storeDetail.SetText(st.Name + " (" + string(st.State) + "): " + orDash(st.Path) + "\n" + orDash(st.Detail))
		}
	}

	c.trust = widget.NewButtonWithIcon(lang.X("cert.trust", "Trust Certificate…"), theme.ConfirmIcon(), c.confirmTrust)
	c.trust.Importance = widget.HighImportance
	c.renew = widget.NewButtonWithIcon(lang.X("cert.renew", "Renew Now"), theme.ViewRefreshIcon(), t.renewCertificate)
	check := widget.NewButtonWithIcon(lang.X("cert.check_again", "Check Again"), theme.SearchIcon(), func() {
		c.headline.SetText(lang.X("cert.checking", "Checking the trust stores…"))
		kick(t.kickCert)
	})
	details := widget.NewForm(
		widget.NewFormItem(lang.X("cert.served", "Served"), c.served),
		widget.NewFormItem(lang.X("cert.fingerprint", "CA fingerprint (SHA-256)"), c.fingerprint),
		widget.NewFormItem(lang.X("cert.ca_expires", "CA expires"), c.caExpires),
		widget.NewFormItem(lang.X("cert.leaf_expires", "Certificate expires"), c.leafExpires),
		widget.NewFormItem(lang.X("cert.files", "Files"), c.files),
	)
	top := container.NewVBox(
		container.NewBorder(nil, nil, c.icon, container.NewHBox(c.trust, c.renew, check), c.headline),
		c.warnings, details,
		widget.NewLabelWithStyle(lang.X("cert.stores", "Browser trust stores"), fyne.TextAlignLeading, fyne.TextStyle{Bold: true}),
	)
	c.content = container.NewBorder(top, c.storeDetail, nil, nil, c.table)
	return c
}

// fingerprintLines breaks a SHA-256 fingerprint (32 hex pairs) in two
// halves, as certificate viewers do: one line of 95 characters would
// widen the window, and word wrapping would break it at random.
func fingerprintLines(fp string) string {
	if len(fp) != 32*3-1 {
		return fp
	}
	return fp[:16*3-1] + "\n" + fp[16*3:]
}

func orDash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}

// expiry is a date with the days left, as in `orionbridge certs status`.
func expiry(t time.Time, now time.Time) string {
	if t.IsZero() {
		return "–"
	}
	days := int(t.Sub(now).Hours() / 24)
	date := t.Format(time.DateOnly)
	if days < 0 {
		return lang.X("cert.expired", "{{.Date}} (expired)", map[string]any{"Date": date})
	}
	return lang.X("cert.in_days", "{{.Date}} (in {{.Days}} {{if eq .Days 1}}day{{else}}days{{end}})", map[string]any{"Date": date, "Days": days})
}

// refresh shows the latest certificate report.
func (c *certTab) refresh(m model) {
	r := m.Cert
	if r == nil || r == c.shown {
		return
	}
	c.shown = r
	st := r.Status
	switch {
	case st.External && r.Trusted:
		c.icon.SetResource(theme.ConfirmIcon())
		c.headline.SetText(lang.X("cert.external_trusted", "Your organisation's certificate is served, and this machine trusts it"))
	case st.External:
		c.icon.SetResource(theme.WarningIcon())
		c.headline.SetText(lang.X("cert.external_untrusted", "Your organisation's certificate is served, but this machine does not trust it for localhost"))
	case r.Err != nil:
		c.icon.SetResource(theme.ErrorIcon())
		c.headline.SetText(lang.X("cert.unreadable", "The trust stores could not be read: {{.Error}}", map[string]any{"Error": r.Err.Error()}))
	case r.Trusted:
		c.icon.SetResource(theme.ConfirmIcon())
		c.headline.SetText(lang.X("cert.trusted", "Trusted: browsers on this machine can connect"))
	default:
		c.icon.SetResource(theme.WarningIcon())
		c.headline.SetText(lang.X("cert.untrusted", "Not trusted: browsers cannot connect until you click Trust Certificate"))
	}
	now := time.Now()
	if st.External {
		c.fingerprint.SetText(lang.X("cert.external_fingerprint", "– (managed by your organisation)"))
		c.caExpires.SetText("–")
		c.files.SetText(st.LeafPath + ", " + st.KeyPath)
		c.trust.Disable()
		c.renew.Disable()
	} else {
		c.fingerprint.SetText(fingerprintLines(st.CAFingerprint))
		c.caExpires.SetText(expiry(st.CANotAfter, now))
		c.files.SetText(st.CAPath)
		c.trust.Enable()
		c.renew.Enable()
	}
	c.served.SetText(servedText(st))
	if st.Kind == certs.KindMachine {
		// The machine's renewal task renews it; a user cannot.
		c.renew.Disable()
	}
	c.leafExpires.SetText(expiry(st.LeafNotAfter, now))
	if len(st.Warnings) > 0 {
		c.warnings.SetText(strings.Join(st.Warnings, "\n"))
		c.warnings.Show()
	} else {
		c.warnings.Hide()
	}
	c.stores = r.Stores
	c.table.Refresh()
}

// servedText names the certificate served and why, as `certs status` does.
func servedText(st certs.Status) string {
	what := lang.X("cert.kind_user", "Your own certificate, made by Orion Bridge for you")
	switch st.Kind {
	case certs.KindMachine:
		what = lang.X("cert.kind_machine", "This computer's certificate, set up for every user by your administrator")
	case certs.KindExternal:
		what = lang.X("cert.kind_external", "Your organisation's certificate")
	}
	if st.Why == "" {
		return what
	}
	return what + " (" + st.Why + ")"
}

// confirmTrust explains what trusting does before doing it.
func (c *certTab) confirmTrust() {
	msg := widget.NewLabel(lang.X("cert.confirm_text", "Orion Bridge will add its own certificate authority to your browsers' trust stores, "+
		"so that pages can open wss://localhost. It can vouch for localhost only, never for another website, "+
		"and it was created on this computer."))
	msg.Wrapping = fyne.TextWrapWord
	title := lang.X("cert.confirm_title", "Trust the Orion Bridge certificate?")
	d := dialog.NewCustomConfirm(title, lang.X("cert.confirm_trust", "Trust"), lang.X("cert.confirm_cancel", "Cancel"), msg, func(ok bool) {
		if ok {
			c.headline.SetText(lang.X("cert.adding", "Adding the certificate to the trust stores…"))
			c.t.trustCertificate()
		}
	}, c.d.window)
	d.Resize(fyne.NewSize(480, 0))
	d.Show()
}

// showTrustResults says what Trust did in every store.
func (c *certTab) showTrustResults(results []certs.StoreResult, err error) {
	if err != nil {
		dialog.ShowError(fmt.Errorf("%s: %w\n\n%s", lang.X("error.trust", "trust certificate"), err, trustSummary(results)), c.d.window)
		return
	}
	dialog.ShowInformation(lang.X("cert.trusted_title", "Certificate trusted"), trustSummary(results)+
		"\n\n"+lang.X("cert.restart_browser", "Restart your browser if a page still cannot connect."), c.d.window)
}
