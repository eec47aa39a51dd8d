package tray

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/lang"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// Tab names, used to open the dashboard on a given tab and to name
// screenshots; what the tab shows is tabLabel's, in the operator's language.
const (
	tabSessions    = "Sessions"
	tabLog         = "Log"
	tabSites       = "Sites"
	tabSettings    = "Settings"
	tabCertificate = "Certificate"
)

// dashboardSize fits the Sessions table's columns without truncating a
// typical origin, on a 1280×720 screen.
var dashboardSize = fyne.NewSize(1200, 640)

// dashboard is the main window. Closing it hides it: the tray app keeps
// running, and the tray menu's Open Dashboard brings it back. Where there is
// no tray, closing it quits.
type dashboard struct {
	t      *trayApp
	window fyne.Window
	tabs   *container.AppTabs
	byName map[string]*container.TabItem

	sessions *sessionsTab
	log      *logTab
	sites    *sitesTab
	settings *settingsTab
	cert     *certTab
}

func newDashboard(t *trayApp) *dashboard {
	d := &dashboard{t: t, window: t.app.NewWindow("Orion Bridge"), byName: map[string]*container.TabItem{}}
	d.sessions = newSessionsTab(t, d)
	d.log = newLogTab(t, d)
	d.sites = newSitesTab(t, d)
	d.settings = newSettingsTab(t, d)
	d.cert = newCertTab(t, d)
	item := func(name string, icon fyne.Resource, content fyne.CanvasObject) *container.TabItem {
		ti := container.NewTabItemWithIcon(tabLabel(name), icon, content)
		d.byName[name] = ti
		return ti
	}
	d.tabs = container.NewAppTabs(
		item(tabSessions, theme.ComputerIcon(), d.sessions.content),
		item(tabLog, theme.ListIcon(), d.log.content),
		item(tabSites, theme.StorageIcon(), d.sites.content),
		item(tabSettings, theme.SettingsIcon(), d.settings.content),
		item(tabCertificate, theme.ConfirmIcon(), d.cert.content),
	)
	d.tabs.OnSelected = func(*container.TabItem) { d.t.refreshUI() }
	d.window.SetContent(d.tabs)
	d.window.Resize(dashboardSize)
	if t.desk != nil {
		d.window.SetCloseIntercept(d.window.Hide)
	} else {
		// Without a tray, a hidden dashboard could never come back.
		d.window.SetCloseIntercept(t.quit)
	}
	d.window.SetIcon(appIcon)
	return d
}

// tabLabel is what the tab named name shows.
func tabLabel(name string) string {
	switch name {
	case tabSessions:
		return lang.X("tab.sessions", "Sessions")
	case tabLog:
		return lang.X("tab.log", "Log")
	case tabSites:
		return lang.X("tab.sites", "Sites")
	case tabSettings:
		return lang.X("tab.settings", "Settings")
	case tabCertificate:
		return lang.X("tab.certificate", "Certificate")
	}
	return name
}

// hintLabel is secondary text: status lines, hints, countdowns. Italic sets
// it apart; the theme's low-importance colour is too faint to read on the
// light theme.
func hintLabel(text string) *widget.Label {
	return widget.NewLabelWithStyle(text, fyne.TextAlignLeading, fyne.TextStyle{Italic: true})
}

// show opens the window, on tab unless tab is "".
func (d *dashboard) show(tab string) {
	if ti, ok := d.byName[tab]; ok {
		d.tabs.Select(ti)
	}
	d.window.Show()
	d.window.RequestFocus()
}

// refresh updates every tab from m. The tabs skip work that would not
// change what they show.
func (d *dashboard) refresh(m model) {
	d.sessions.refresh(m)
	d.log.refresh()
	d.sites.refresh(m)
	d.settings.refresh(m)
	d.cert.refresh(m)
}
