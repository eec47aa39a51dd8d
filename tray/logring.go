package tray

import (
	"log/slog"
	"strconv"
	"strings"
	"sync"

	"fyne.io/fyne/v2/lang"

	"orionbridge/bridge"
)

// logCapacity bounds the live log: at a few hundred bytes a record, 5,000
// lines keep the tray's memory flat over days of uptime. The full history
// is in the log files (Open Logs Folder).
const logCapacity = 5000

// logRing keeps the newest records. The event loop adds to it and the UI
// reads it, each on its own goroutine.
type logRing struct {
	mu    sync.Mutex
	buf   []bridge.LogEntry
	next  int    // where the next record goes once the ring is full
	added uint64 // records ever added: tells the UI whether to redraw
}

func newLogRing(capacity int) *logRing {
	return &logRing{buf: make([]bridge.LogEntry, 0, capacity)}
}

// Add stores e, dropping the oldest record when the ring is full.
func (r *logRing) Add(e bridge.LogEntry) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.added++
	if len(r.buf) < cap(r.buf) {
		r.buf = append(r.buf, e)
		return
	}
	r.buf[r.next] = e
	r.next = (r.next + 1) % len(r.buf)
}

// Added counts every record ever added, dropped ones included.
func (r *logRing) Added() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.added
}

// Len is how many records the ring holds.
func (r *logRing) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.buf)
}

// Filter returns the records f matches, oldest first.
func (r *logRing) Filter(f logFilter) []bridge.LogEntry {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []bridge.LogEntry
	for i := range r.buf {
		e := r.buf[(r.next+i)%len(r.buf)]
		if f.match(e) {
			out = append(out, e)
		}
	}
	return out
}

// logFilter selects records by minimum level and by text.
type logFilter struct {
	MinLevel slog.Level
	// Text matches, case-insensitively, the message, a field's key or value,
	// or the level's name.
	Text string
}

func (f logFilter) match(e bridge.LogEntry) bool {
	if e.Level < f.MinLevel {
		return false
	}
	needle := strings.ToLower(strings.TrimSpace(f.Text))
	if needle == "" {
		return true
	}
	if strings.Contains(strings.ToLower(e.Message), needle) || strings.Contains(strings.ToLower(e.Level.String()), needle) {
		return true
	}
	for _, a := range e.Attrs {
		if strings.Contains(strings.ToLower(a.Key), needle) || strings.Contains(strings.ToLower(a.Value), needle) {
			return true
		}
	}
	return false
}

// logLevels are the Log tab's level choices, mildest first.
// Label is a function: the language is chosen after package init.
var logLevels = []struct {
	Label func() string
	Min   slog.Level
}{
	{func() string { return lang.X("log.level.all", "All levels") }, slog.LevelDebug},
	{func() string { return lang.X("log.level.info", "Info and above") }, slog.LevelInfo},
	{func() string { return lang.X("log.level.warn", "Warnings and errors") }, slog.LevelWarn},
	{func() string { return lang.X("log.level.error", "Errors only") }, slog.LevelError},
}

// levelName is slog's name padded to a fixed width, so messages line up in
// an exported file.
func levelName(l slog.Level) string {
	return (l.String() + "     ")[:5]
}

// formatFields renders attributes as key=value, quoting values that would
// otherwise be ambiguous, the way slog's text handler does.
func formatFields(attrs []bridge.LogAttr) string {
	var b strings.Builder
	for i, a := range attrs {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(a.Key)
		b.WriteByte('=')
		if a.Value == "" || strings.ContainsAny(a.Value, " =\"\t\n") {
			b.WriteString(strconv.Quote(a.Value))
		} else {
			b.WriteString(a.Value)
		}
	}
	return b.String()
}

// logText is records as lines of text, each ending in a newline: what Copy
// (with nothing selected) and Export write.
func logText(entries []bridge.LogEntry) string {
	var b strings.Builder
	for _, e := range entries {
		b.WriteString(formatLogLine(e))
		b.WriteByte('\n')
	}
	return b.String()
}

// formatLogLine is one record as a line of text, for the clipboard and for
// exported files: "2025-11-21 13:04:05.123 WARN  message key=value".
func formatLogLine(e bridge.LogEntry) string {
	line := e.Time.Format("2006-01-02 15:04:05.000") + " " + levelName(e.Level) + " " + e.Message
	if len(e.Attrs) > 0 {
		line += " " + formatFields(e.Attrs)
	}
	return line
}
