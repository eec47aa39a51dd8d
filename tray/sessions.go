package tray

import (
	"time"

	"fyne.io/fyne/v2/lang"

	"orionbridge/bridge"
)

// sessionColumnCount is how many columns the Sessions table has.
const sessionColumnCount = 8

// sessionColumns are the Sessions table's column headers, in order, in the
// operator's language. ↑ is browser → engine, ↓ is engine → browser, as in
// bridge.SessionInfo.
func sessionColumns() [sessionColumnCount]string {
	return [...]string{
		lang.X("sessions.column.origin", "Origin"),
		lang.X("sessions.column.client", "Client"),
		lang.X("sessions.column.route", "Route → Target"),
		lang.X("sessions.column.state", "State"),
		lang.X("sessions.column.started", "Started"),
		lang.X("sessions.column.duration", "Duration"),
		lang.X("sessions.column.bytes", "Bytes ↑ / ↓"),
		lang.X("sessions.column.messages", "Messages ↑ / ↓"),
	}
}

// sessionState is a session's state in the operator's language.
func sessionState(s bridge.SessionState) string {
	switch s {
	case bridge.StateConnecting:
		return lang.X("sessions.state.connecting", "connecting")
	case bridge.StateOpen:
		return lang.X("sessions.state.open", "open")
	case bridge.StateClosing:
		return lang.X("sessions.state.closing", "closing")
	case bridge.StateClosed:
		return lang.X("sessions.state.closed", "closed")
	}
	return string(s)
}

// sessionRow is one session as the table shows it: every cell already text.
type sessionRow struct {
	ID    string
	Cells [sessionColumnCount]string // in sessionColumns order
}

// sessionRows turns a snapshot into table rows, oldest session first (the
// bridge's order), so rows do not jump around while the operator reads.
func sessionRows(sessions []bridge.SessionInfo, now time.Time) []sessionRow {
	rows := make([]sessionRow, 0, len(sessions))
	for _, s := range sessions {
		origin := s.Origin
		if origin == "" {
			origin = lang.X("sessions.no_origin", "(none)")
		}
		rows = append(rows, sessionRow{ID: s.ID, Cells: [sessionColumnCount]string{
			origin,
			s.ClientAddr,
			s.Route + " → " + s.Target,
			sessionState(s.State),
			formatStarted(s.Started, now),
			formatDuration(s.Duration),
			upDown(formatBytes(s.BytesToEngine), formatBytes(s.BytesToBrowser)),
			upDown(formatCount(s.MessagesToEngine), formatCount(s.MessagesToBrowser)),
		}})
	}
	return rows
}

// rowIndex finds the session id among rows, so a selection follows its
// session when older ones close and the rows shift up.
func rowIndex(rows []sessionRow, id string) int {
	for i, r := range rows {
		if r.ID == id {
			return i
		}
	}
	return -1
}

// totalsLine is the footer under the table: what went through the bridge
// since it was created. The bridge counts a session in Totals when it ends,
// so the open ones are added here.
func totalsLine(t bridge.Totals, open int) string {
	n := int(t.Sessions) + open
	return lang.X("sessions.totals", "Since start: {{.Count}} {{if eq .Count 1}}session{{else}}sessions{{end}} · bytes {{.Bytes}} · messages {{.Messages}}", map[string]any{
		"Count":    n,
		"Bytes":    upDown(formatBytes(t.BytesToEngine), formatBytes(t.BytesToBrowser)),
		"Messages": upDown(formatCount(t.MessagesToEngine), formatCount(t.MessagesToBrowser)),
	})
}
