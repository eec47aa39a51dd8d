package tray

import (
	"time"

	"orionbridge/bridge"
)

// sessionColumns are the Sessions table's columns, in order. ↑ is browser →
// engine, ↓ is engine → browser, as in bridge.SessionInfo.
var sessionColumns = [...]string{"Origin", "Client", "Route → Target", "State", "Started", "Duration", "Bytes ↑ / ↓", "Messages ↑ / ↓"}

// sessionRow is one session as the table shows it: every cell already text.
type sessionRow struct {
	ID    string
	Cells [len(sessionColumns)]string // in sessionColumns order
}

// sessionRows turns a snapshot into table rows, oldest session first (the
// bridge's order), so rows do not jump around while the operator reads.
func sessionRows(sessions []bridge.SessionInfo, now time.Time) []sessionRow {
	rows := make([]sessionRow, 0, len(sessions))
	for _, s := range sessions {
		origin := s.Origin
		if origin == "" {
			origin = "(none)"
		}
		rows = append(rows, sessionRow{ID: s.ID, Cells: [len(sessionColumns)]string{
			origin,
			s.ClientAddr,
			s.Route + " → " + s.Target,
			string(s.State),
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
	return "Since start: " + plural(int(t.Sessions)+open, "session", "sessions") +
		" · bytes " + upDown(formatBytes(t.BytesToEngine), formatBytes(t.BytesToBrowser)) +
		" · messages " + upDown(formatCount(t.MessagesToEngine), formatCount(t.MessagesToBrowser))
}
