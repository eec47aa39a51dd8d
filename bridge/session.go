package bridge

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"
)

const (
	// closeGrace is how long the bridge waits for the browser to answer a
	// close frame before dropping the connection.
	closeGrace = 2 * time.Second
	// closeWriteWait bounds writing a close frame to a browser that may have
	// stopped reading.
	closeWriteWait = time.Second
	// maxCloseReason is the most a close frame's reason may hold (RFC 6455 §5.5:
	// 125-byte control payload minus the 2-byte code).
	maxCloseReason = 123
	// relayBufferSize is the size of the buffers that carry raw-mode data:
	// browser messages are written to the engine in pieces of up to this
	// size, and the engine's bytes are read up to rawReadSize at a time.
	relayBufferSize = 64 << 10
	// rawReadSize leaves room for the 4-byte header of a WebSocket frame of
	// that size, so each frame to the browser is exactly four full TLS
	// records (16 KiB each) and not four and a 4-byte straggler: one
	// syscall and one wake-up of the browser fewer per message.
	rawReadSize = relayBufferSize - 4
)

// relayBuffers hold the bytes of one raw-mode read or message while they
// are relayed. A session takes one only once data is there to move, and
// gives it back before it waits again, so an idle session holds none.
var relayBuffers = sync.Pool{New: func() any {
	b := make([]byte, relayBufferSize)
	return &b
}}

// Session is one browser WebSocket relayed to one engine TCP connection.
type Session struct {
	b       *Bridge
	st      *settings // as when the session started
	id      string
	origin  string
	client  string
	route   Route
	started time.Time
	ws      *websocket.Conn
	ctx     context.Context // cancelled when the session starts closing
	cancel  context.CancelFunc

	bytesToEngine, bytesToBrowser       atomic.Int64
	messagesToEngine, messagesToBrowser atomic.Int64

	closeOnce  sync.Once
	deadlineMu sync.Mutex // orders read-deadline changes against finish

	mu          sync.Mutex
	engine      net.Conn
	state       SessionState
	closeCode   int
	closeReason string
	ended       time.Time
}

// Info returns the session's identity and counters as of now.
func (s *Session) Info(now time.Time) SessionInfo {
	s.mu.Lock()
	state, code, reason, ended := s.state, s.closeCode, s.closeReason, s.ended
	s.mu.Unlock()
	if !ended.IsZero() {
		now = ended
	}
	return SessionInfo{
		ID:                s.id,
		Origin:            s.origin,
		ClientAddr:        s.client,
		Route:             s.route.Path,
		Target:            s.route.Target,
		Framing:           s.route.Framing,
		State:             state,
		Started:           s.started,
		Duration:          now.Sub(s.started),
		BytesToEngine:     s.bytesToEngine.Load(),
		BytesToBrowser:    s.bytesToBrowser.Load(),
		MessagesToEngine:  s.messagesToEngine.Load(),
		MessagesToBrowser: s.messagesToBrowser.Load(),
		CloseCode:         code,
		CloseReason:       reason,
	}
}

// run dials the engine and relays until either side ends. It returns when
// every goroutine of the session has finished.
//
// The calling goroutine relays the engine's bytes to the browser, and a
// second one the browser's messages to the engine. An idle session waits in
// both; run's own frame is kept small (the work is in open) because an idle
// session's stack holds it.
func (s *Session) run() {
	defer s.ws.Close()
	engine, reading := s.open()
	if engine == nil {
		return
	}
	if s.route.Framing == FramingRaw {
		s.rawToBrowser(engine)
	} else {
		s.framedToBrowser(engine)
	}
	<-reading
}

// open dials the engine and starts the browser-to-engine goroutine, whose
// end closes the returned channel. It returns a nil engine when the session
// ended before it opened.
func (s *Session) open() (net.Conn, chan struct{}) {
	s.ws.SetPongHandler(func(string) error { s.extendReadDeadline(); return nil })
	s.extendReadDeadline()
	engine, err := s.dialEngine()
	if err != nil {
		if s.ctx.Err() == nil {
			s.b.log.Warn("engine unavailable", "session", s.id, "target", s.route.Target, "err", err)
			s.finish(websocket.CloseTryAgainLater, engineUnavailableReason(s.route.Target, err), true)
		}
		s.discardUntilClosed()
		return nil, nil
	}
	// Under mu, either finish sees the engine and closes it, or this sees
	// that finish ran during the dial.
	s.mu.Lock()
	closing := s.ctx.Err() != nil
	if !closing {
		s.engine, s.state = engine, StateOpen
	}
	s.mu.Unlock()
	if closing {
		engine.Close()
		s.discardUntilClosed()
		return nil, nil
	}
	s.b.sessionOpened(s)

	stopPinging := s.startPinging()
	reading := make(chan struct{})
	go func() {
		defer close(reading)
		s.browserToEngine(engine)
		// The close handshake is over (or timed out); closing the socket
		// also frees a writer blocked on a browser that stopped reading.
		s.ws.Close()
		stopPinging()
	}()
	return engine, reading
}

func (s *Session) dialEngine() (net.Conn, error) {
	d := net.Dialer{
		Timeout: s.st.opts.DialTimeout,
		// Keepalive finds an engine that vanished without closing (a crash
		// under a debugger, a sleeping VM) on otherwise idle sessions.
		KeepAliveConfig: net.KeepAliveConfig{Enable: true, Idle: 30 * time.Second, Interval: 10 * time.Second, Count: 3},
	}
	return d.DialContext(s.ctx, "tcp", s.route.Target)
}

// engineUnavailableReason is the close reason a page can show when the
// engine cannot be reached, e.g. "engine unavailable at 127.0.0.1:21400:
// connection refused".
func engineUnavailableReason(target string, err error) string {
	var errno syscall.Errno
	var detail string
	switch {
	case errors.As(err, &errno):
		detail = errno.Error()
	case errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded):
		detail = "no answer in time"
	default:
		detail = err.Error()
	}
	return truncateReason("engine unavailable at " + target + ": " + detail)
}

// truncateReason cuts a close reason to the frame limit on a rune boundary.
func truncateReason(s string) string {
	if len(s) <= maxCloseReason {
		return s
	}
	cut := maxCloseReason
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}

// finish starts closing the session once: it records why, sends the browser
// a close frame when the bridge is the one closing, and drops the engine.
func (s *Session) finish(code int, reason string, sendClose bool) {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.state, s.closeCode, s.closeReason = StateClosing, code, reason
		engine := s.engine
		s.deadlineMu.Lock()
		s.cancel()
		s.deadlineMu.Unlock()
		s.mu.Unlock()
		if sendClose {
			msg := websocket.FormatCloseMessage(code, truncateReason(reason))
			_ = s.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(closeWriteWait))
		}
		if engine != nil {
			engine.Close()
		}
		// Wait a moment for the browser's close frame, then stop reading.
		_ = s.ws.SetReadDeadline(time.Now().Add(closeGrace))
	})
}

// forceClose drops both connections without a handshake, after Stop's grace.
func (s *Session) forceClose() {
	s.finish(websocket.CloseGoingAway, "bridge shutting down", false)
	s.ws.NetConn().Close()
}

// extendReadDeadline gives the browser another pong timeout to show it is
// alive, unless the session is already closing (then closeGrace rules).
func (s *Session) extendReadDeadline() {
	s.deadlineMu.Lock()
	defer s.deadlineMu.Unlock()
	if s.ctx.Err() == nil {
		_ = s.ws.SetReadDeadline(time.Now().Add(s.st.opts.PongTimeout))
	}
}

// startPinging pings the browser every PingInterval from a timer, so an
// idle session has no goroutine waiting for the next ping. The returned
// function stops the pings and waits for one in flight.
func (s *Session) startPinging() (stop func()) {
	var mu sync.Mutex // held while a ping is written, and by stop
	stopped := false
	var t *time.Timer
	mu.Lock()
	defer mu.Unlock()
	t = time.AfterFunc(s.st.opts.PingInterval, func() {
		mu.Lock()
		defer mu.Unlock()
		if stopped || s.ctx.Err() != nil {
			return
		}
		// WriteControl may run concurrently with the data writer.
		if err := s.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(s.st.opts.WriteTimeout)); err != nil {
			return
		}
		t.Reset(s.st.opts.PingInterval)
	})
	return func() {
		mu.Lock()
		defer mu.Unlock()
		stopped = true
		t.Stop()
	}
}

// discardUntilClosed reads until the browser answers the close frame or the
// grace period ends.
func (s *Session) discardUntilClosed() {
	for {
		if _, _, err := s.ws.NextReader(); err != nil {
			return
		}
	}
}

// browserToEngine reads WebSocket messages and writes them to the engine in
// the route's framing. A slow engine blocks this loop, which stops reading
// the browser's socket: backpressure instead of buffering.
func (s *Session) browserToEngine(engine net.Conn) {
	var msg bytes.Buffer
	for {
		_, r, err := s.ws.NextReader()
		if err != nil {
			s.browserReadFailed(err)
			return
		}
		var n int64
		var readErr, writeErr error
		switch s.route.Framing {
		case FramingRaw:
			n, readErr, writeErr = copyMessage(engine, r)
		default:
			n, readErr, writeErr = s.writeFramed(engine, r, &msg)
		}
		if readErr != nil {
			s.browserReadFailed(readErr)
			return
		}
		if writeErr != nil {
			if s.ctx.Err() == nil {
				s.finish(websocket.CloseInternalServerErr, "engine connection failed: "+errorDetail(writeErr), true)
			}
			s.discardUntilClosed()
			return
		}
		s.bytesToEngine.Add(n)
		s.messagesToEngine.Add(1)
		s.extendReadDeadline()
	}
}

// copyMessage streams one message to the engine in writes of up to
// relayBufferSize, telling a failed read of the browser apart from a failed
// write to the engine. A message that fits the buffer is read whole and
// written at once: one TCP write, so the engine sees it in one read, and one
// wake-up instead of one per TLS record or frame.
func copyMessage(dst io.Writer, src io.Reader) (n int64, readErr, writeErr error) {
	bp := relayBuffers.Get().(*[]byte)
	defer relayBuffers.Put(bp)
	buf := *bp
	for {
		filled := 0
		var err error
		for filled < len(buf) && err == nil {
			var nr int
			nr, err = src.Read(buf[filled:])
			filled += nr
		}
		if filled > 0 {
			nw, werr := dst.Write(buf[:filled])
			n += int64(nw)
			if werr != nil {
				return n, nil, werr
			}
		}
		if errors.Is(err, io.EOF) {
			return n, nil, nil
		}
		if err != nil {
			return n, err, nil
		}
	}
}

// writeFramed reads a whole message (bounded by the read limit), frames it
// and writes it to the engine in one call.
func (s *Session) writeFramed(engine net.Conn, r io.Reader, msg *bytes.Buffer) (n int64, readErr, writeErr error) {
	msg.Reset()
	if s.route.Framing == FramingLengthPrefixed {
		msg.Write([]byte{0, 0, 0, 0}) // length, filled in below
	}
	if _, err := msg.ReadFrom(r); err != nil {
		return 0, err, nil
	}
	b := msg.Bytes()
	switch s.route.Framing {
	case FramingLengthPrefixed:
		n = int64(len(b) - 4)
		appendFrameHeader(b[:0], int(n))
	case FramingLines:
		n = int64(len(b))
		msg.WriteByte('\n')
		b = msg.Bytes()
	}
	_, err := engine.Write(b)
	if msg.Cap() > maxRetainedBuffer {
		*msg = bytes.Buffer{}
	}
	return n, nil, err
}

func (s *Session) browserReadFailed(err error) {
	if s.ctx.Err() != nil {
		return // the browser's answer to our close, or the grace period ended
	}
	var ce *websocket.CloseError
	var ne net.Error
	switch {
	case errors.As(err, &ce):
		// gorilla has already echoed the close frame.
		s.finish(ce.Code, ce.Text, false)
	case errors.Is(err, websocket.ErrReadLimit):
		// gorilla has already sent 1009.
		s.finish(websocket.CloseMessageTooBig, fmt.Sprintf("browser message exceeds max_message_bytes %d", s.st.opts.MaxMessageBytes), false)
	case errors.As(err, &ne) && ne.Timeout():
		s.finish(websocket.CloseGoingAway, fmt.Sprintf("no pong from the browser within %s", s.st.opts.PongTimeout), true)
	default:
		s.finish(websocket.CloseAbnormalClosure, "browser connection lost: "+errorDetail(err), false)
	}
}

// framedToBrowser relays the engine's lines or length-prefixed frames, each
// as one message. It and rawToBrowser are the only writers of data frames.
func (s *Session) framedToBrowser(engine net.Conn) {
	var next func() ([]byte, int, error)
	switch s.route.Framing {
	case FramingLines:
		d := newLineDecoder(engine, s.st.opts.MaxMessageBytes)
		next = func() ([]byte, int, error) {
			line, err := d.Next()
			if utf8.Valid(line) {
				return line, websocket.TextMessage, err
			}
			return line, websocket.BinaryMessage, err
		}
	default: // FramingLengthPrefixed
		d := newFrameDecoder(engine, s.st.opts.MaxMessageBytes)
		next = func() ([]byte, int, error) {
			p, err := d.Next()
			return p, websocket.BinaryMessage, err
		}
	}
	for {
		data, typ, err := next()
		if err != nil {
			s.engineReadFailed(err)
			return
		}
		if !s.sendToBrowser(typ, data) {
			return
		}
	}
}

// rawToBrowser relays the engine's bytes in raw framing: each read becomes
// one binary message. The buffer is taken only once the engine's bytes are
// there and given back once they are written, before waiting for more. It
// is kept apart from framedToBrowser, with a small stack frame, because an
// idle session waits here: a shallow stack lets the runtime shrink it.
func (s *Session) rawToBrowser(engine net.Conn) {
	rd := newRawReader(engine)
	for {
		buf, n, err := rd.read()
		if err != nil {
			s.engineReadFailed(err)
			return
		}
		ok := s.sendToBrowser(websocket.BinaryMessage, (*buf)[:n])
		relayBuffers.Put(buf)
		if !ok {
			return
		}
	}
}

// sendToBrowser writes one data message; false when the browser is gone.
func (s *Session) sendToBrowser(typ int, data []byte) bool {
	_ = s.ws.SetWriteDeadline(time.Now().Add(s.st.opts.WriteTimeout))
	if err := s.ws.WriteMessage(typ, data); err != nil {
		if s.ctx.Err() == nil {
			s.finish(websocket.CloseAbnormalClosure, "browser connection lost: "+errorDetail(err), false)
		}
		return false
	}
	s.bytesToBrowser.Add(int64(len(data)))
	s.messagesToBrowser.Add(1)
	return true
}

func (s *Session) engineReadFailed(err error) {
	if s.ctx.Err() != nil {
		return // we closed the engine connection ourselves
	}
	var tooLarge *errTooLarge
	switch {
	case errors.Is(err, io.EOF):
		s.finish(websocket.CloseNormalClosure, "engine closed the connection", true)
	case errors.As(err, &tooLarge):
		s.finish(websocket.CloseMessageTooBig, tooLarge.Error(), true)
	default:
		s.finish(websocket.CloseInternalServerErr, "engine connection failed: "+errorDetail(err), true)
	}
}

// errorDetail keeps the part of a network error a person can act on.
func errorDetail(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno.Error()
	}
	return err.Error()
}
