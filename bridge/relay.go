package bridge

// The relay: browser messages to the engine in the route's framing, and the
// engine's bytes, lines or frames back as messages, with the limits that
// keep a stalled peer from pinning a session.

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"
)

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
	// the final line ending ("\n" or "\r\n"), so a small message leaves in
	// one write.
	end := s.route.LineEnding.terminator()
	start, reserve := 0, 0
	if lines {
		reserve = len(end)
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
		*last = append(*last, end...)
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

// framedToBrowser relays the engine's lines or length-prefixed frames, each
// as one message. It and rawToBrowser are the only writers of data frames.
func (s *Session) framedToBrowser(engine net.Conn) {
	var next func() ([]byte, int, error)
	switch s.route.Framing {
	case FramingLines:
		d := newLineDecoder(engine, s.st.opts.MaxMessageBytes, s.route.LineEnding)
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
