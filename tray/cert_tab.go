package tray

import (
	"fmt"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"orionbridge/app"
	"orionbridge/certs"
)

// storeColumns are the trust-store table's columns and their widths.
var storeColumns = []struct {
	Title string
	Width float32
}{{"Trust store", 290}, {"State", 140}, {"Path", 300}, {"Detail", 430}}

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
	c.headline = widget.NewLabelWithStyle("Checking the trust stores…", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	c.fingerprint = widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Monospace: true})
	c.fingerprint.Selectable = true
	c.caExpires, c.leafExpires = widget.NewLabel(""), widget.NewLabel("")
	c.files = widget.NewLabel("")
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
			o.(*widget.Label).SetText(storeColumns[id.Col].Title)
		}
	}
	for i, col := range storeColumns {
		c.table.SetColumnWidth(i, col.Width)
	}
	// Details and paths are long; the selected store's show in full below.
	c.storeDetail = widget.NewLabel("Select a trust store to see its details in full.")
	c.storeDetail.Wrapping = fyne.TextWrapWord
	c.storeDetail.Selectable = true
	c.table.OnSelected = func(id widget.TableCellID) {
		if id.Row >= 0 && id.Row < len(c.stores) {
			st := c.stores[id.Row]
			c.storeDetail.SetText(st.Name + " (" + string(st.State) + "): " + orDash(st.Path) + "\n" + orDash(st.Detail))
		}
	}

	c.trust = widget.NewButtonWithIcon("Trust Certificate…", theme.ConfirmIcon(), c.confirmTrust)
	c.trust.Importance = widget.HighImportance
	c.renew = widget.NewButtonWithIcon("Renew Now", theme.ViewRefreshIcon(), t.renewCertificate)
	check := widget.NewButtonWithIcon("Check Again", theme.SearchIcon(), func() {
		c.headline.SetText("Checking the trust stores…")
		kick(t.kickCert)
	})
	details := widget.NewForm(
		widget.NewFormItem("CA fingerprint (SHA-256)", c.fingerprint),
		widget.NewFormItem("CA expires", c.caExpires),
		widget.NewFormItem("Certificate expires", c.leafExpires),
		widget.NewFormItem("Files", c.files),
	)
	top := container.NewVBox(
		container.NewBorder(nil, nil, c.icon, container.NewHBox(c.trust, c.renew, check), c.headline),
		c.warnings, details,
		widget.NewLabelWithStyle("Browser trust stores", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}),
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
	switch {
	case days < 0:
		return t.Format(time.DateOnly) + " (expired)"
	case days == 1:
		return t.Format(time.DateOnly) + " (in 1 day)"
	}
	return fmt.Sprintf("%s (in %d days)", t.Format(time.DateOnly), days)
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
		c.headline.SetText("Your organisation's certificate is served, and this machine trusts it")
	case st.External:
		c.icon.SetResource(theme.WarningIcon())
		c.headline.SetText("Your organisation's certificate is served, but this machine does not trust it for localhost")
	case r.Err != nil:
		c.icon.SetResource(theme.ErrorIcon())
		c.headline.SetText("The trust stores could not be read: " + r.Err.Error())
	case r.Trusted:
		c.icon.SetResource(theme.ConfirmIcon())
		c.headline.SetText("Trusted: browsers on this machine can connect")
	default:
		c.icon.SetResource(theme.WarningIcon())
		c.headline.SetText("Not trusted: browsers cannot connect until you click Trust Certificate")
	}
	now := time.Now()
	if st.External {
		c.fingerprint.SetText("– (managed by your organisation)")
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

// confirmTrust explains what trusting does before doing it.
func (c *certTab) confirmTrust() {
	msg := widget.NewLabel("Orion Bridge will add its own certificate authority to your browsers' trust stores, " +
		"so that pages can open wss://localhost. It can vouch for localhost only, never for another website, " +
		"and it was created on this computer.")
	msg.Wrapping = fyne.TextWrapWord
	d := dialog.NewCustomConfirm("Trust the Orion Bridge certificate?", "Trust", "Cancel", msg, func(ok bool) {
		if ok {
			c.headline.SetText("Adding the certificate to the trust stores…")
			c.t.trustCertificate()
		}
	}, c.d.window)
	d.Resize(fyne.NewSize(480, 0))
	d.Show()
}

// showTrustResults says what Trust did in every store.
func (c *certTab) showTrustResults(results []certs.StoreResult, err error) {
	if err != nil {
		dialog.ShowError(fmt.Errorf("trust certificate: %w\n\n%s", err, trustSummary(results)), c.d.window)
		return
	}
	dialog.ShowInformation("Certificate trusted", trustSummary(results)+
		"\n\nRestart your browser if a page still cannot connect.", c.d.window)
}
