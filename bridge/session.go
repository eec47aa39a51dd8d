package bridge

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
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

	// conn is the browser's connection under gorilla: it notes when the
	// browser was last heard from and watches its frame headers.
	conn *browserConn
	// engineArmed is the write deadline last set on the engine connection;
	// only the browser-to-engine goroutine touches it.
	engineArmed time.Time
	// utf8 checks the text message being relayed (browser-to-engine goroutine).
	utf8 utf8Validator

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
	s.conn, _ = s.ws.NetConn().(*browserConn)
	if s.conn == nil {
		// Not wrapped (a test building a Session by hand): no frame tracking.
		s.conn = &browserConn{Conn: s.ws.NetConn()}
	}
	s.conn.session(s)
	s.ws.SetPingHandler(s.answerPing)
	s.ws.SetCloseHandler(s.answerClose)
	s.armReadDeadline()
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
	// Keepalive is decided once the address is known (a host name may
	// resolve to loopback): off until then.
	d := net.Dialer{Timeout: s.st.opts.DialTimeout, KeepAlive: -1}
	c, err := d.DialContext(s.ctx, "tcp", s.route.Target)
	if err != nil {
		return nil, err
	}
	if tc, ok := c.(*net.TCPConn); ok {
		if ka := engineKeepAlive(tc.RemoteAddr()); ka.Enable {
			if err := tc.SetKeepAliveConfig(ka); err != nil {
				s.b.log.Debug("engine keepalive", "session", s.id, "target", s.route.Target, "err", err)
			}
		}
	}
	return c, nil
}

// engineKeepAlive is the TCP keepalive for an engine connection to addr.
//
// A loopback engine gets none. Its kernel is ours, and it answers probes for
// as long as the socket exists, whatever the engine process does: a hung or
// stopped engine still answers, and a crashed one has its socket closed by
// the kernel, which the session sees at once. So on loopback keepalive finds
// nothing, yet it can end healthy sessions: at about 10,000 idle sessions
// the loopback backlog dropped probes in bursts and three lost in a row
// aborted the connection (1011 "connection timed out"; docs/benchmarks.md,
// "Sessions closed while idle").
//
// An engine on another host (a VM, a container with its own address) can
// vanish without a word: a sleeping VM or a pulled cable. Keepalive finds
// it on otherwise idle sessions.
func engineKeepAlive(addr net.Addr) net.KeepAliveConfig {
	if ta, ok := addr.(*net.TCPAddr); ok && ta.IP.IsLoopback() {
		return net.KeepAliveConfig{Enable: false}
	}
	return net.KeepAliveConfig{Enable: true, Idle: 30 * time.Second, Interval: 10 * time.Second, Count: 3}
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

// The browser must be heard from at least every PongTimeout: any frame
// counts (a pong, a ping, data, even part of a long frame still arriving),
// not only pongs, so a pong queued behind a large upload does not end a
// healthy session. PingInterval < PongTimeout (the config insists) means an
// idle browser's pong always lands before the deadline. Time the bridge
// spends blocked writing to the engine is not excused: the deadline counts
// from the last byte read from the browser and nothing else moves it, so a
// session whose browser is gone ends within PongTimeout whatever the engine
// does (writeEngine enforces the same bound while blocked).

// armReadDeadline starts the clock when the session opens.
func (s *Session) armReadDeadline() {
	s.conn.heardNow()
	s.rearmReadDeadline()
}

// rearmReadDeadline sets the read deadline to PongTimeout after the browser
// was last heard from and reports whether that is still ahead. It never
// moves the deadline once the session is closing (then closeGrace rules).
// browserConn calls it when a read times out: deadlines are moved lazily,
// once per PongTimeout at most, and not on every frame.
func (s *Session) rearmReadDeadline() bool {
	s.deadlineMu.Lock()
	defer s.deadlineMu.Unlock()
	if s.ctx.Err() != nil {
		return false
	}
	deadline := s.conn.heard().Add(s.st.opts.PongTimeout)
	if !time.Now().Before(deadline) {
		return false
	}
	_ = s.conn.SetReadDeadline(deadline)
	return true
}

// answerPing replaces gorilla's default ping handler, which gives a pong
// one second and then reports its failure as a timeout: a ping flood from a
// browser that reads nothing ended as "no pong from the browser", which was
// not what happened. A pong gets WriteTimeout, as a data frame does.
func (s *Session) answerPing(data string) error {
	err := s.ws.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(s.st.opts.WriteTimeout))
	if err == nil || errors.Is(err, websocket.ErrCloseSent) {
		return nil
	}
	return &pongError{err}
}

// pongError is a pong the bridge could not write.
type pongError struct{ err error }

func (e *pongError) Error() string { return "write pong: " + e.err.Error() }
func (e *pongError) Unwrap() error { return e.err }

// errCloseOneByte: RFC 6455 §5.5.1 allows a close payload of 0 bytes or of
// 2 and more (a code); gorilla reads 1 byte as no code at all (1005).
var errCloseOneByte = errors.New("close frame with a 1-byte payload")

// answerClose is gorilla's default close handler (echo the code without a
// reason; 1005 is echoed as an empty payload), except that a 1-byte close
// payload, which gorilla reports as 1005, is answered with 1002.
func (s *Session) answerClose(code int, _ string) error {
	if code == websocket.CloseNoStatusReceived && s.conn.firstCloseLen() == 1 {
		msg := websocket.FormatCloseMessage(websocket.CloseProtocolError, errCloseOneByte.Error())
		_ = s.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(closeWriteWait))
		return errCloseOneByte
	}
	_ = s.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, ""), time.Now().Add(closeWriteWait))
	return nil
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
		// WriteControl may run concurrently with the data writer. A ping
		// that cannot be written means the browser is gone or stopped
		// reading: the session ends here, even while the other goroutines
		// are blocked (on an engine that stopped reading, say).
		if err := s.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(s.st.opts.WriteTimeout)); err != nil {
			if s.ctx.Err() == nil && !errors.Is(err, websocket.ErrCloseSent) {
				s.browserWriteFailed("ping", err)
			}
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
// the browser's socket: backpressure instead of buffering. writeEngine
// bounds how long it may block.
func (s *Session) browserToEngine(engine net.Conn) {
	for {
		typ, r, err := s.ws.NextReader()
		if err != nil {
			s.browserReadFailed(err)
			return
		}
		var n int64
		var readErr, writeErr error
		switch s.route.Framing {
		case FramingRaw:
			n, readErr, writeErr = s.copyMessage(engine, r, typ == websocket.TextMessage)
		default:
			n, readErr, writeErr = s.writeFramed(engine, r, typ == websocket.TextMessage)
		}
		if readErr != nil {
			s.browserReadFailed(readErr)
			return
		}
		if writeErr != nil {
			s.engineWriteFailed(writeErr)
			return
		}
		s.bytesToEngine.Add(n)
		s.messagesToEngine.Add(1)
	}
}

// badMessage is a browser message the bridge refuses with 1007: invalid
// UTF-8 in a text message, or a line break in a `lines` message.
type badMessage struct{ reason string }

func (e *badMessage) Error() string { return e.reason }

var (
	errInvalidUTF8 = &badMessage{"invalid UTF-8 in a text message"}
	// A line break would turn one message into two engine commands. '\r'
	// is refused as well as '\n': common line readers (Java's readLine,
	// .NET's ReadLine, Python's universal newlines) end a line at a lone
	// '\r' too, and a CRLF engine would split on it.
	errLineBreak = &badMessage{"message contains a line break (\\n or \\r), which lines framing cannot carry"}
)

// copyMessage streams one raw message to the engine in writes of up to
// relayBufferSize, telling a failed read of the browser apart from a failed
// write to the engine. A message that fits the buffer is read whole and
// written at once: one TCP write, so the engine sees it in one read, and one
// wake-up instead of one per TLS record or frame.
//
// A text message is checked for UTF-8 as it passes, across buffer
// boundaries and without allocating. A message that fits the buffer is
// checked whole before any of it is written; of a longer one, the pieces
// before a bad byte have reached the engine (raw framing has no message
// boundaries to keep, so the engine cannot tell a message from a piece).
func (s *Session) copyMessage(dst net.Conn, src io.Reader, text bool) (n int64, readErr, writeErr error) {
	bp := relayBuffers.Get().(*[]byte)
	defer relayBuffers.Put(bp)
	buf := *bp
	s.utf8.reset()
	for {
		filled := 0
		var err error
		for filled < len(buf) && err == nil {
			var nr int
			nr, err = src.Read(buf[filled:])
			filled += nr
		}
		eof := errors.Is(err, io.EOF)
		if err != nil && !eof {
			return n, err, nil
		}
		if text && (!s.utf8.feed(buf[:filled]) || eof && !s.utf8.complete()) {
			return n, errInvalidUTF8, nil
		}
		if filled > 0 {
			nw, werr := s.writeEngine(dst, buf[:filled])
			n += int64(nw)
			if werr != nil {
				return n, nil, werr
			}
		}
		if eof {
			return n, nil, nil
		}
	}
}

// writeFramed reads a whole message, checks it, and writes it to the engine
// framed. The engine must never see a message the bridge refuses, and a
// length-prefixed header needs the length, so the message is held whole;
// but in pooled relayBufferSize chunks, not a growing buffer, so a message
// costs its size once plus under one chunk (a doubling buffer held about
// twice the message, and kept the peak until the copy was done). The chunks
// go back to the pool once written.
//
// Streaming was weighed: for length-prefixed it would need the size up
// front, which gorilla does not expose (a message may be fragmented); for
// lines, bytes already written cannot be taken back when a line break or bad
// UTF-8 turns up later in the message, and an engine reads a cut-off last
// line as a command.
func (s *Session) writeFramed(engine net.Conn, r io.Reader, text bool) (n int64, readErr, writeErr error) {
	var chunks []*[]byte
	defer func() {
		for _, c := range chunks {
			*c = (*c)[:relayBufferSize] // the pool's buffers are always full length
			relayBuffers.Put(c)
		}
	}()
	lines := s.route.Framing == FramingLines
	s.utf8.reset()
	// Room in the first chunk for the 4-byte length, and in every chunk for
	// the final newline, so a small message leaves in one write.
	start, reserve := 0, 0
	if lines {
		reserve = 1
	} else {
		start = 4
	}
	var err error
	for !errors.Is(err, io.EOF) {
		bp := relayBuffers.Get().(*[]byte)
		chunks = append(chunks, bp)
		buf := (*bp)[:start]
		limit := len(*bp) - reserve
		for len(buf) < limit && err == nil {
			var nr int
			nr, err = r.Read(buf[len(buf):limit])
			buf = buf[:len(buf)+nr]
		}
		*bp = buf
		if err != nil && !errors.Is(err, io.EOF) {
			return 0, err, nil
		}
		p := buf[start:]
		n += int64(len(p))
		if lines && bytes.ContainsAny(p, "\r\n") {
			return 0, errLineBreak, nil
		}
		if text && !s.utf8.feed(p) {
			return 0, errInvalidUTF8, nil
		}
		start = 0
	}
	if text && !s.utf8.complete() {
		return 0, errInvalidUTF8, nil
	}
	if lines {
		last := chunks[len(chunks)-1]
		*last = append(*last, '\n')
	} else {
		appendFrameHeader((*chunks[0])[:0], int(n))
	}
	for _, c := range chunks {
		if _, err := s.writeEngine(engine, *c); err != nil {
			return n, nil, err
		}
	}
	return n, nil, nil
}

// writeEngine writes p to the engine with a progress deadline: a write that
// makes no progress for engineStall ends the session ("engine stopped
// reading for 30s"), and so does waiting on the engine past PongTimeout
// since the browser was last heard (the bridge cannot hear the browser
// while it is blocked here, so that bound must hold here too). A slow
// engine that keeps taking bytes is backpressure, not a failure.
//
// The deadline is moved only when it falls more than a quarter of the
// bound behind, so the raw relay does not reset a timer on every message;
// a timeout then checks the real bounds before giving up.
func (s *Session) writeEngine(engine net.Conn, p []byte) (int, error) {
	stall := s.engineStall()
	start := time.Now()
	progress := start
	n, calls, moved := 0, 0, false
	for {
		silent := s.conn.heard().Add(s.st.opts.PongTimeout)
		want := progress.Add(stall)
		if silent.Before(want) {
			want = silent
		}
		if s.engineArmed.Before(want.Add(-stall/4)) || s.engineArmed.After(want) {
			_ = engine.SetWriteDeadline(want)
			s.engineArmed = want
		}
		nw, err := engine.Write(p[n:])
		n += nw
		calls++
		if err == nil {
			return n, nil
		}
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			return n, err
		}
		now := time.Now()
		if nw > 0 {
			// Some time during that call the engine took bytes; counting
			// from now errs on the tolerant side (at most twice stall). The
			// first call's bytes may only have filled the socket buffer, so
			// only later ones show the engine reading.
			progress, moved = now, moved || calls > 1
			continue
		}
		switch {
		case now.Sub(progress) >= stall:
			return n, &engineStalled{fmt.Sprintf("engine stopped reading for %s", stall)}
		case !now.Before(silent) && !moved:
			return n, &engineStalled{fmt.Sprintf("engine stopped reading for %s", now.Sub(start).Truncate(10*time.Millisecond))}
		case !now.Before(silent):
			return n, &engineStalled{fmt.Sprintf("engine too slow: the browser went unheard for %s (pong_timeout) while the bridge waited to write", s.st.opts.PongTimeout)}
		}
		// The deadline was armed early (see above): arm the real one.
		s.engineArmed = time.Time{}
	}
}

// engineStall is how long a write to the engine may make no progress: the
// time a browser gets to take one frame (WriteTimeout), the same for both
// peers, but never more than PongTimeout, so that a session whose browser
// is gone ends within PongTimeout even when its engine stopped reading.
func (s *Session) engineStall() time.Duration {
	return min(s.st.opts.WriteTimeout, s.st.opts.PongTimeout)
}

// engineStalled is a write to the engine given up on; its text is the close
// reason.
type engineStalled struct{ reason string }

func (e *engineStalled) Error() string { return e.reason }

func (s *Session) engineWriteFailed(err error) {
	if s.ctx.Err() == nil {
		var stalled *engineStalled
		if errors.As(err, &stalled) {
			s.b.log.Warn("engine not reading; closing the session", "session", s.id, "target", s.route.Target, "reason", stalled.reason)
			s.finish(websocket.CloseInternalServerErr, stalled.reason, true)
		} else if !s.awaitEngineVerdict() {
			s.finish(websocket.CloseInternalServerErr, "engine connection failed: "+errorDetail(err), true)
		}
	}
	s.discardUntilClosed()
}

func (s *Session) browserReadFailed(err error) {
	if s.ctx.Err() != nil {
		return // the browser's answer to our close, or the grace period ended
	}
	var ce *websocket.CloseError
	var bad *badMessage
	var pong *pongError
	var ne net.Error
	switch {
	case errors.As(err, &bad):
		// The rest of the message is never read: discardUntilClosed drops it.
		s.finish(websocket.CloseInvalidFramePayloadData, bad.reason, true)
		s.discardUntilClosed()
	case errors.Is(err, errCloseOneByte):
		// answerClose has already sent 1002.
		s.finish(websocket.CloseProtocolError, "browser sent a close frame with a 1-byte payload", false)
	case errors.As(err, &ce):
		// gorilla has already echoed the close frame.
		s.finish(ce.Code, ce.Text, false)
	case errors.Is(err, websocket.ErrReadLimit):
		// gorilla has already sent 1009.
		s.finish(websocket.CloseMessageTooBig, fmt.Sprintf("browser message exceeds max_message_bytes %d", s.st.opts.MaxMessageBytes), false)
	case errors.As(err, &pong):
		// Before the timeout check: a pong write that timed out is a
		// browser that does not read (a ping flood, typically), not a
		// missing pong.
		s.browserWriteFailed("pong", pong.err)
	case errors.As(err, &ne) && ne.Timeout():
		s.finish(websocket.CloseGoingAway, fmt.Sprintf("no pong or other frame from the browser within %s", s.st.opts.PongTimeout), true)
	default:
		s.finish(websocket.CloseAbnormalClosure, "browser connection lost: "+errorDetail(err), false)
	}
}

// browserWriteFailed ends the session after a failed write of what to the
// browser. No close frame: the connection cannot carry one.
func (s *Session) browserWriteFailed(what string, err error) {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		s.finish(websocket.CloseAbnormalClosure, fmt.Sprintf("browser stopped reading: a %s waited %s to be written", what, s.st.opts.WriteTimeout), false)
		return
	}
	s.finish(websocket.CloseAbnormalClosure, "browser connection lost: "+errorDetail(err), false)
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
			s.browserWriteFailed("message", err)
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
	if (errors.Is(err, io.EOF) || errors.Is(err, errPartialFrame) || errors.Is(err, syscall.ECONNRESET)) && s.awaitEngineVerdict() {
		return // the app said why the engine went away (Bridge.EngineExited)
	}
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

// engineVerdictWait is how long a session whose managed engine's connection
// ended waits for the app to say whether the engine process exited. The
// session usually sees the end first (the kernel closes the sockets of a
// dead process before its parent reaps it); the app's verdict follows
// within milliseconds, once it has reaped the process.
const engineVerdictWait = time.Second

// awaitEngineVerdict waits, on a route whose engine the app runs, for
// Bridge.EngineExited to close the session with the real reason. It
// reports whether that happened; false at once on other routes.
func (s *Session) awaitEngineVerdict() bool {
	if s.st.opts.EngineState == nil || s.st.opts.EngineState(s.route.Path) == "" {
		return false
	}
	t := time.NewTimer(engineVerdictWait)
	defer t.Stop()
	select {
	case <-s.ctx.Done():
		return true
	case <-t.C:
		return s.ctx.Err() != nil
	}
}

// EngineExited is how the app reports that the engine it runs for a route
// exited on its own: every session of that route closes with reason (e.g.
// "engine exited (signal: killed); restarting"), 1013 when the engine is
// being restarted, else 1011, instead of 1000 "engine closed the
// connection": a crash is not a clean close. Sessions that saw their
// engine connection end a moment before wait for this call
// (engineVerdictWait).
func (b *Bridge) EngineExited(routePath, reason string, restarting bool) {
	code := websocket.CloseInternalServerErr
	if restarting {
		code = websocket.CloseTryAgainLater
	}
	b.mu.Lock()
	var hit []*Session
	for _, s := range b.sessions {
		if s.route.Path == routePath {
			hit = append(hit, s)
		}
	}
	b.mu.Unlock()
	b.log.Warn("engine exited; closing its sessions", "route", routePath, "reason", reason, "sessions", len(hit))
	for _, s := range hit {
		// finish may wait up to closeWriteWait for a browser's socket.
		go s.finish(code, truncateReason(reason), true)
	}
}

// browserConn is the browser's connection as gorilla sees it (serveRoute
// hands it to the upgrader). Every read notes the time, so that any frame,
// or part of one, counts as a sign of life, and feeds the frame tracker.
// A read that times out is retried while the browser was heard from within
// PongTimeout: the read deadline is moved lazily, not on every frame.
type browserConn struct {
	net.Conn
	s         *Session
	lastHeard atomic.Int64 // unix nanoseconds
	frames    frameTracker
}

func (c *browserConn) session(s *Session) { c.s = s }

func (c *browserConn) heardNow()          { c.lastHeard.Store(time.Now().UnixNano()) }
func (c *browserConn) heard() time.Time   { return time.Unix(0, c.lastHeard.Load()) }
func (c *browserConn) firstCloseLen() int { return c.frames.firstCloseLen() }

func (c *browserConn) Read(p []byte) (int, error) {
	for {
		n, err := c.Conn.Read(p)
		if n > 0 {
			c.heardNow()
			c.frames.track(p[:n])
			return n, err
		}
		var ne net.Error
		if err == nil || c.s == nil || !errors.As(err, &ne) || !ne.Timeout() || !c.s.rearmReadDeadline() {
			return n, err
		}
	}
}

// hijackInto hands the upgrader a browserConn instead of the raw connection.
type hijackInto struct {
	http.ResponseWriter
	conn *browserConn
}

func (h hijackInto) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	hj, ok := h.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("hijack: the response writer cannot hand over its connection")
	}
	c, rw, err := hj.Hijack()
	if err != nil {
		return nil, nil, err
	}
	h.conn.Conn = c
	return h.conn, rw, nil
}

// frameTracker follows the frame headers of the browser's byte stream, in
// step with gorilla, to learn what gorilla does not report: the payload
// length of the first close frame (1 byte is a protocol error, which
// gorilla reads as "no status"). It skips payloads without looking at them.
type frameTracker struct {
	hdr      [14]byte // a header being collected
	hn       int
	skip     uint64 // payload bytes of the current frame still to pass
	closeLen int    // payload length of the first close frame, plus one; 0 until seen
}

func (t *frameTracker) firstCloseLen() int { return t.closeLen - 1 }

func (t *frameTracker) track(p []byte) {
	for len(p) > 0 {
		if t.skip > 0 {
			k := min(uint64(len(p)), t.skip)
			t.skip -= k
			p = p[k:]
			continue
		}
		t.hdr[t.hn] = p[0]
		t.hn++
		p = p[1:]
		if t.hn < 2 {
			continue
		}
		need := 2
		switch t.hdr[1] & 0x7f {
		case 126:
			need += 2
		case 127:
			need += 8
		}
		if t.hdr[1]&0x80 != 0 {
			need += 4 // mask key
		}
		if t.hn < need {
			continue
		}
		var size uint64
		switch l := t.hdr[1] & 0x7f; l {
		case 126:
			size = uint64(binary.BigEndian.Uint16(t.hdr[2:4]))
		case 127:
			size = binary.BigEndian.Uint64(t.hdr[2:10])
		default:
			size = uint64(l)
		}
		if t.hdr[0]&0x0f == websocket.CloseMessage && t.closeLen == 0 {
			t.closeLen = int(min(size, 1<<20)) + 1
		}
		t.hn, t.skip = 0, size
	}
}
