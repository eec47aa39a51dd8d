package bridge

// The browser side of a session: when it was last heard from, pings and
// pongs, the close handshake, and the frame headers gorilla does not report.

import (
	"bufio"
	"encoding/binary"
	"errors"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

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
