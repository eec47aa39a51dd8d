package bridge

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// EventKind says what an Event reports.
type EventKind int

const (
	// SessionOpened: a WebSocket was upgraded and its engine connection is up.
	SessionOpened EventKind = iota + 1
	// SessionClosed: a session ended; Session.CloseCode and CloseReason say why.
	SessionClosed
	// LogRecord: the bridge logged something; see Event.Log.
	LogRecord
	// StateChanged: the bridge started or stopped listening.
	StateChanged
	// CertificateChanged: the certificate served, or the CA that signs it,
	// changed; see Event.Certificate. The bridge does not watch
	// certificates: the app publishes what its certificate source reports.
	CertificateChanged
	// ConsentRequested: the bridge asks the operator whether Event.Origin
	// may connect. A prompt in another process answers through
	// Bridge.AnswerConsent.
	ConsentRequested
)

func (k EventKind) String() string {
	switch k {
	case SessionOpened:
		return "session-opened"
	case SessionClosed:
		return "session-closed"
	case LogRecord:
		return "log"
	case StateChanged:
		return "state"
	case CertificateChanged:
		return "certificate-changed"
	case ConsentRequested:
		return "consent-requested"
	}
	return "unknown"
}

// ParseEventKind is the inverse of EventKind.String, for events that
// crossed a process boundary (the control API's stream).
func ParseEventKind(s string) (EventKind, bool) {
	for k := SessionOpened; k <= ConsentRequested; k++ {
		if k.String() == s {
			return k, true
		}
	}
	return 0, false
}

// Event is one thing that happened in the bridge. Session is set for session
// events, Log for log records, Certificate for CertificateChanged and Origin
// for ConsentRequested.
type Event struct {
	Kind        EventKind
	Time        time.Time
	Session     SessionInfo
	Log         LogEntry
	Certificate CertificateChange
	Origin      string
}

// CertificateChange describes a CertificateChanged event. It mirrors the
// certs package's Change, which the bridge does not import: the core
// packages stay independent of each other, and the app maps one onto the
// other.
type CertificateChange struct {
	// What changed: "leaf-issued", "leaf-changed-on-disk", "ca-created",
	// "ca-renewed" or "ca-changed-on-disk" (certs.ChangeKind's names).
	What string `json:"what"`
	// Reason is why a leaf was issued ("due", "forced renewal", …).
	Reason string `json:"reason,omitempty"`
	// Serial and NotAfter describe the new leaf, Fingerprint the new CA.
	Serial      string    `json:"serial,omitempty"`
	NotAfter    time.Time `json:"not_after,omitzero"`
	Fingerprint string    `json:"fingerprint,omitempty"`
	Path        string    `json:"path,omitempty"`
}

// SessionInfo describes one browser session and its counters. "ToEngine" is
// browser → engine (upstream), "ToBrowser" is engine → browser.
type SessionInfo struct {
	ID                string        `json:"id"`
	Origin            string        `json:"origin"`
	ClientAddr        string        `json:"client_addr"`
	Route             string        `json:"route"`
	Target            string        `json:"target"`
	Framing           Framing       `json:"framing"`
	State             SessionState  `json:"state"`
	Started           time.Time     `json:"started"`
	Duration          time.Duration `json:"duration"`
	BytesToEngine     int64         `json:"bytes_to_engine"`
	BytesToBrowser    int64         `json:"bytes_to_browser"`
	MessagesToEngine  int64         `json:"messages_to_engine"`
	MessagesToBrowser int64         `json:"messages_to_browser"`
	CloseCode         int           `json:"close_code,omitempty"`
	CloseReason       string        `json:"close_reason,omitempty"`
}

// SessionState is where a session is in its life.
type SessionState string

const (
	StateConnecting SessionState = "connecting" // dialing the engine
	StateOpen       SessionState = "open"
	StateClosing    SessionState = "closing"
	StateClosed     SessionState = "closed"
)

// LogEntry is a log record flattened for display.
type LogEntry struct {
	Time    time.Time  `json:"time"`
	Level   slog.Level `json:"level"`
	Message string     `json:"message"`
	Attrs   []LogAttr  `json:"attrs,omitempty"`
}

// LogAttr is one key=value field of a log record.
type LogAttr struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Subscription receives events until Close. A subscriber that does not keep
// up loses events rather than stalling a relay; Dropped counts the loss.
type Subscription struct {
	C       <-chan Event
	ch      chan Event
	dropped atomic.Uint64
	bus     *bus
}

// Dropped returns how many events this subscriber has missed.
func (s *Subscription) Dropped() uint64 { return s.dropped.Load() }

// Close stops delivery and closes C.
func (s *Subscription) Close() { s.bus.remove(s) }

// replayedLogs is how many recent log records a new subscriber gets first,
// so a UI that attaches late still sees "bridge listening" or why a start
// failed.
const replayedLogs = 200

// bus fans events out to subscribers without ever blocking the publisher.
type bus struct {
	mu     sync.RWMutex
	subs   map[*Subscription]struct{}
	recent []Event // the last replayedLogs log records, oldest first
}

func newBus() *bus { return &bus{subs: make(map[*Subscription]struct{})} }

func (b *bus) subscribe(buffer int) *Subscription {
	if buffer < 1 {
		buffer = 1
	}
	ch := make(chan Event, buffer)
	s := &Subscription{C: ch, ch: ch, bus: b}
	b.mu.Lock()
	// Replay into at most half the buffer, so live events still fit.
	recent := b.recent[max(0, len(b.recent)-buffer/2):]
	for _, e := range recent {
		ch <- e
	}
	b.subs[s] = struct{}{}
	b.mu.Unlock()
	return s
}

func (b *bus) remove(s *Subscription) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.subs[s]; ok {
		delete(b.subs, s)
		close(s.ch)
	}
}

func (b *bus) publish(e Event) {
	if e.Kind == LogRecord {
		b.mu.Lock()
		if len(b.recent) == replayedLogs {
			copy(b.recent, b.recent[1:])
			b.recent = b.recent[:replayedLogs-1]
		}
		b.recent = append(b.recent, e)
		b.mu.Unlock()
	}
	b.mu.RLock()
	defer b.mu.RUnlock()
	for s := range b.subs {
		select {
		case s.ch <- e:
		default:
			s.dropped.Add(1)
		}
	}
}

// publishingHandler passes records to the next handler and publishes them as
// LogRecord events, so the UI's live log sees exactly what the log file sees.
type publishingHandler struct {
	next   slog.Handler
	bus    *bus
	attrs  []LogAttr
	prefix string // group prefix for keys, "" or "group."
}

func (h *publishingHandler) Enabled(ctx context.Context, l slog.Level) bool {
	// The UI wants info and above even when the log file is quieter.
	return l >= slog.LevelInfo || h.next.Enabled(ctx, l)
}

func (h *publishingHandler) Handle(ctx context.Context, r slog.Record) error {
	entry := LogEntry{Time: r.Time, Level: r.Level, Message: r.Message}
	entry.Attrs = append(entry.Attrs, h.attrs...)
	r.Attrs(func(a slog.Attr) bool {
		entry.Attrs = appendAttr(entry.Attrs, h.prefix, a)
		return true
	})
	h.bus.publish(Event{Kind: LogRecord, Time: r.Time, Log: entry})
	if h.next.Enabled(ctx, r.Level) {
		return h.next.Handle(ctx, r)
	}
	return nil
}

func (h *publishingHandler) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.next = h.next.WithAttrs(as)
	c.attrs = append([]LogAttr(nil), h.attrs...)
	for _, a := range as {
		c.attrs = appendAttr(c.attrs, h.prefix, a)
	}
	return &c
}

func (h *publishingHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	c := *h
	c.next = h.next.WithGroup(name)
	c.prefix = h.prefix + name + "."
	return &c
}

func appendAttr(dst []LogAttr, prefix string, a slog.Attr) []LogAttr {
	a.Value = a.Value.Resolve()
	if a.Equal(slog.Attr{}) {
		return dst
	}
	if a.Value.Kind() == slog.KindGroup {
		for _, g := range a.Value.Group() {
			dst = appendAttr(dst, prefix+a.Key+".", g)
		}
		return dst
	}
	return append(dst, LogAttr{Key: prefix + a.Key, Value: a.Value.String()})
}
