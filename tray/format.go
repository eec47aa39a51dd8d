package tray

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"fyne.io/fyne/v2/lang"
)

// formatDuration renders a session's age compactly and at a precision that
// matters for it: seconds in the first hour, minutes after, hours after a day.
// Fixed two-digit tails ("1m05s") keep a column of durations aligned.
func formatDuration(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	s := int64(d / time.Second)
	switch {
	case s < 60:
		return fmt.Sprintf("%ds", s)
	case s < 3600:
		return fmt.Sprintf("%dm%02ds", s/60, s%60)
	case s < 86400:
		return fmt.Sprintf("%dh%02dm", s/3600, s%3600/60)
	}
	return fmt.Sprintf("%dd%02dh", s/86400, s%86400/3600)
}

// formatBytes renders a byte count in binary units, as the limits in the
// config are powers of two (16 MiB): "512 B", "1.2 MiB", "118 MiB".
func formatBytes(n int64) string {
	if n < 1024 {
		return strconv.FormatInt(max(n, 0), 10) + " B"
	}
	v := float64(n)
	unit := ""
	for _, u := range []string{"KiB", "MiB", "GiB", "TiB", "PiB"} {
		v /= 1024
		unit = u
		if v < 1024 {
			break
		}
	}
	// One decimal while it carries information, none once it would be noise.
	if v < 10 {
		return fmt.Sprintf("%.1f %s", v, unit)
	}
	return fmt.Sprintf("%.0f %s", v, unit)
}

// formatCount groups thousands so that message counts stay readable:
// "1,234,567".
func formatCount(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// formatStarted shows the time of day for today's sessions and adds the date
// for older ones, which a bridge running for days will have.
func formatStarted(t, now time.Time) string {
	if t.IsZero() {
		return ""
	}
	t = t.In(now.Location())
	y1, m1, d1 := t.Date()
	y2, m2, d2 := now.Date()
	if y1 == y2 && m1 == m2 && d1 == d2 {
		return t.Format("15:04:05")
	}
	// The layout is translated: Korean has no "Jan", and a Go layout with
	// "1" and "2" for month and day reads "1월 2일 15:04".
	return t.Format(lang.X("format.started_date", "Jan 2 15:04"))
}

// upDown renders a pair of counters as "↑ / ↓" cells; ↑ is towards the engine.
func upDown(up, down string) string { return up + " ↑  " + down + " ↓" }
