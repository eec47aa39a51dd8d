package bridge

import (
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

// register adds a session unless the bridge is stopping.
func (b *Bridge) register(s *Session) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.running || b.paused {
		return false
	}
	b.sessions[s.id] = s
	b.sessionWG.Add(1)
	return true
}

func (b *Bridge) sessionOpened(s *Session) {
	info := s.Info(time.Now())
	b.log.Info("session opened", "session", s.id, "origin", s.origin, "client", s.client,
		"route", s.route.Path, "target", s.route.Target, "framing", string(s.route.Framing))
	b.bus.publish(Event{Kind: SessionOpened, Time: info.Started, Session: info})
}

func (b *Bridge) unregister(s *Session) {
	now := time.Now()
	s.mu.Lock()
	s.state, s.ended = StateClosed, now
	s.mu.Unlock()
	info := s.Info(now)
	b.mu.Lock()
	// Free the max_clients slot first: once the session is gone from the
	// snapshot, a new one must fit.
	b.reserved.Add(-1)
	delete(b.sessions, s.id)
	b.totals.Sessions++
	b.totals.BytesToEngine += info.BytesToEngine
	b.totals.BytesToBrowser += info.BytesToBrowser
	b.totals.MessagesToEngine += info.MessagesToEngine
	b.totals.MessagesToBrowser += info.MessagesToBrowser
	b.mu.Unlock()
	b.log.Info("session closed", "session", s.id, "origin", s.origin, "route", s.route.Path,
		"code", info.CloseCode, "reason", info.CloseReason,
		"bytes_to_engine", info.BytesToEngine, "bytes_to_browser", info.BytesToBrowser,
		"messages_to_engine", info.MessagesToEngine, "messages_to_browser", info.MessagesToBrowser,
		"duration", info.Duration.Round(time.Millisecond).String())
	b.bus.publish(Event{Kind: SessionClosed, Time: now, Session: info})
	b.sessionWG.Done()
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
func truncateReason(s string) string { return cutRunes(s, maxCloseReason) }

// cutRunes is the longest prefix of s of at most n bytes that ends on a
// rune boundary.
func cutRunes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
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
	// finish may wait up to closeWriteWait for a browser's socket.
	b.closeInBackgroundLocked(hit, code, truncateReason(reason))
	b.mu.Unlock()
	b.log.Warn("engine exited; closing its sessions", "route", routePath, "reason", reason, "sessions", len(hit))
}
