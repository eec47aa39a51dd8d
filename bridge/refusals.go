package bridge

// Rate-limited refusal logging.
//
// A hostile page can make the bridge refuse thousands of requests a second
// (no-cors fetches, WebSocket attempts from a foreign Origin, TLS handshakes
// it aborts). Logged one line each, that rotates an hour of useful log away
// in a minute. So the first refusal of a kind is logged in full at once, and
// repeats within the window are only counted; when the window ends one
// summary line carries the count. A kind is (message, reason, origin), all
// three bounded in size, and the number of kinds tracked at once is bounded
// too: a page that varies its Host or Origin on every request would
// otherwise get a line, and a map entry, per request.

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"strconv"
	"sync"
	"time"
)

const (
	// refusalWindow is how long repeats of a refusal are counted before
	// the summary line.
	refusalWindow = 10 * time.Second
	// refusalKinds bounds the kinds counted at once. Beyond it, new kinds
	// share one entry per message ("… more with other reasons or origins").
	refusalKinds = 64
	// refusalKeyBytes bounds the reason and the origin in a key.
	refusalKeyBytes = 256
	// refusalAttrBytes bounds the reason and the origin as logged: both can
	// carry what a client sent (Host, Origin), up to the header limit.
	refusalAttrBytes = 512
)

type refusalKey struct {
	msg, reason, origin string
	other               bool // the overflow entry of msg, once refusalKinds are tracked
}

// refusalCount is one kind's current window.
type refusalCount struct {
	level          slog.Level
	start          time.Time
	repeats        int    // refusals after the first, within the window
	reason, origin string // as the summary shows them (clipped)
}

// refusalLog rate-limits refusal lines; the zero value is not usable, see
// newRefusalLog.
type refusalLog struct {
	log    *slog.Logger
	window time.Duration // refusalWindow; tests shorten or lengthen it before use

	mu      sync.Mutex
	kinds   map[refusalKey]*refusalCount
	tracked int         // entries that are not overflow entries
	timer   *time.Timer // armed while any kind has a window open
}

func newRefusalLog(log *slog.Logger) *refusalLog {
	return &refusalLog{log: log, window: refusalWindow, kinds: make(map[refusalKey]*refusalCount)}
}

// refusalSummary is a summary line waiting to be logged outside the lock.
type refusalSummary struct {
	key   refusalKey
	count refusalCount
}

// refused logs msg with the reason and origin (each omitted when empty)
// and args, unless the same kind was logged within the window: then it is
// only counted.
func (l *refusalLog) refused(level slog.Level, msg, reason, origin string, args ...any) {
	now := time.Now()
	k := refusalKey{msg: msg, reason: addrPattern.ReplaceAllLiteralString(clip(reason, refusalKeyBytes), "…"), origin: clip(origin, refusalKeyBytes)}
	shownReason, shownOrigin := clip(reason, refusalAttrBytes), clip(origin, refusalAttrBytes)
	var pending []refusalSummary
	l.mu.Lock()
	c, ok := l.kinds[k]
	if !ok && l.tracked >= refusalKinds {
		k = refusalKey{msg: msg, other: true}
		c, ok = l.kinds[k]
	}
	switch {
	case ok && now.Sub(c.start) < l.window:
		c.repeats++
		l.mu.Unlock()
		return
	case ok:
		// The window ended and the timer has not swept it yet: its summary
		// comes first, then this line opens a new window.
		if c.repeats > 0 {
			pending = append(pending, refusalSummary{k, *c})
		}
	default:
		c = &refusalCount{}
		l.kinds[k] = c
		if !k.other {
			l.tracked++
		}
	}
	*c = refusalCount{level: level, start: now, reason: shownReason, origin: shownOrigin}
	if k.other {
		c.reason, c.origin = "", ""
	}
	if l.timer == nil {
		l.timer = time.AfterFunc(l.window, l.sweep)
	}
	l.mu.Unlock()
	l.emit(pending)
	attrs := make([]any, 0, len(args)+4)
	if shownReason != "" {
		attrs = append(attrs, "reason", shownReason)
	}
	if shownOrigin != "" {
		attrs = append(attrs, "origin", shownOrigin)
	}
	for i, a := range args {
		if v, ok := a.(string); ok && i%2 == 1 {
			a = clip(v, refusalAttrBytes) // paths and the like, as a client sent them
		}
		attrs = append(attrs, a)
	}
	l.log.Log(context.Background(), level, msg, attrs...)
}

// sweep ends the windows that are over, logging their summaries, and
// re-arms the timer for the next one to end.
func (l *refusalLog) sweep() {
	now := time.Now()
	var pending []refusalSummary
	l.mu.Lock()
	var next time.Time
	for k, c := range l.kinds {
		if now.Sub(c.start) >= l.window {
			if c.repeats > 0 {
				pending = append(pending, refusalSummary{k, *c})
			}
			l.forget(k)
			continue
		}
		if next.IsZero() || c.start.Before(next) {
			next = c.start
		}
	}
	l.timer = nil
	if !next.IsZero() {
		l.timer = time.AfterFunc(next.Add(l.window).Sub(now), l.sweep)
	}
	l.mu.Unlock()
	l.emit(pending)
}

// flush logs every pending summary now and forgets all kinds, so no count
// is lost when the bridge stops.
func (l *refusalLog) flush() {
	var pending []refusalSummary
	l.mu.Lock()
	for k, c := range l.kinds {
		if c.repeats > 0 {
			pending = append(pending, refusalSummary{k, *c})
		}
		l.forget(k)
	}
	if l.timer != nil {
		l.timer.Stop()
		l.timer = nil
	}
	l.mu.Unlock()
	l.emit(pending)
}

func (l *refusalLog) forget(k refusalKey) {
	delete(l.kinds, k)
	if !k.other {
		l.tracked--
	}
}

// emit logs summaries: the message of the kind with the count, and the
// count as a number in "repeats", so the events stay machine-readable.
func (l *refusalLog) emit(pending []refusalSummary) {
	for _, s := range pending {
		like := "like this"
		if s.key.other {
			like = "with other reasons or origins"
		}
		attrs := make([]any, 0, 8)
		if s.count.reason != "" {
			attrs = append(attrs, "reason", s.count.reason)
		}
		if s.count.origin != "" {
			attrs = append(attrs, "origin", s.count.origin)
		}
		attrs = append(attrs, "repeats", s.count.repeats, "window", l.window)
		l.log.Log(context.Background(), s.count.level,
			fmt.Sprintf("%s: %s more %s in the last %s", s.key.msg, thousands(s.count.repeats), like, l.window), attrs...)
	}
}

// addrPattern matches IP:port pairs, which differ on every connection
// ("read tcp 127.0.0.1:21443->127.0.0.1:53122: connection reset"): left in
// a key, they would make every refusal a kind of its own.
var addrPattern = regexp.MustCompile(`(\d{1,3}(\.\d{1,3}){3}|\[[0-9A-Fa-f:.%a-z]*\]):\d+`)

// clip shortens s to at most n bytes on a rune boundary, marking the cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return cutRunes(s, n-len("…")) + "…"
}

// thousands formats n with comma separators: 2998 → "2,998".
func thousands(n int) string {
	s := strconv.Itoa(n)
	neg := n < 0
	if neg {
		s = s[1:]
	}
	out := make([]byte, 0, len(s)+len(s)/3+1)
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	if neg {
		return "-" + string(out)
	}
	return string(out)
}

// LogRefusal logs a refused request at Warn through the bridge's logger,
// rate-limited like the bridge's own refusals: the first of a kind (msg,
// reason, origin) at once, repeats within 10 s as one summary line with
// the count. reason and origin are logged as attributes when not empty;
// neither may contain a secret. args are further key-value attributes of
// the first line only; string values are clipped to 512 bytes.
func (b *Bridge) LogRefusal(msg, reason, origin string, args ...any) {
	b.refusals.refused(slog.LevelWarn, msg, reason, origin, args...)
}
