package bridge

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

// Framing says how WebSocket messages map onto the engine's TCP byte stream.
type Framing string

const (
	// FramingRaw sends each message byte for byte; each TCP read becomes one
	// binary message. Message boundaries are not preserved toward the browser.
	FramingRaw Framing = "raw"
	// FramingLines ends each message with the route's LineEnding and splits
	// the TCP stream on '\n'.
	FramingLines Framing = "lines"
	// FramingLengthPrefixed puts a 4-byte big-endian length before each message.
	FramingLengthPrefixed Framing = "length-prefixed"
)

// Valid reports whether f is one of the known framing modes.
func (f Framing) Valid() bool {
	switch f {
	case FramingRaw, FramingLines, FramingLengthPrefixed:
		return true
	}
	return false
}

// LineEnding is how a `lines` route ends each line on the engine's side.
type LineEnding string

const (
	// LineEndingLF ends each message with '\n' and splits the engine's
	// stream on '\n', byte for byte: a '\r' before it stays in the message.
	// The default.
	LineEndingLF LineEnding = "lf"
	// LineEndingCRLF ends each message with "\r\n", and removes the '\r'
	// right before each '\n' from the engine, for the many line protocols
	// (Redis inline commands, memcached, SMTP-like engines, most Windows
	// servers) that end lines with CRLF. A '\r' elsewhere in a line stays.
	LineEndingCRLF LineEnding = "crlf"
)

// Valid reports whether e is a known line ending; "" means LineEndingLF.
func (e LineEnding) Valid() bool {
	switch e {
	case "", LineEndingLF, LineEndingCRLF:
		return true
	}
	return false
}

// terminator is what ends a message on its way to the engine.
func (e LineEnding) terminator() string {
	if e == LineEndingCRLF {
		return "\r\n"
	}
	return "\n"
}

// errTooLarge is returned by the decoders when one line or frame from the
// engine exceeds the message limit; the session closes with 1009.
type errTooLarge struct {
	what  string // "line" or "frame"
	size  int64  // the announced size, or the bytes seen so far for a line
	limit int64
}

func (e *errTooLarge) Error() string {
	if e.what == "frame" {
		return fmt.Sprintf("engine frame of %d bytes exceeds max_message_bytes %d", e.size, e.limit)
	}
	return fmt.Sprintf("engine line exceeds max_message_bytes %d", e.limit)
}

// errPartialFrame means the engine closed its side in the middle of a
// length-prefixed frame, so the frame can never be delivered whole.
var errPartialFrame = errors.New("engine closed the connection in the middle of a frame")

// lineDecoder splits a byte stream on '\n'. The returned slice is valid only
// until the next call; the newline is removed, and with crlf a '\r' right
// before it too.
//
// The limit is on the message, never its line ending: with crlf an engine
// line may take limit+2 bytes on the wire, "\r\n" included, as with lf it
// takes limit+1. So a '\r' that ends what has been read so far is not
// counted until the next byte shows whether a '\n' follows it.
type lineDecoder struct {
	r     *bufio.Reader
	limit int64
	crlf  bool
	line  []byte
}

func newLineDecoder(r io.Reader, limit int64, ending LineEnding) *lineDecoder {
	// A buffer no larger than limit+1 fills, and so returns, as soon as a
	// line is known to be too long, rather than waiting for its newline.
	return &lineDecoder{r: bufio.NewReaderSize(r, int(min(4096, limit+1))), limit: limit, crlf: ending == LineEndingCRLF}
}

// Next returns the next line. At EOF a final line without a trailing newline
// is still returned (the engine's last words are delivered), then io.EOF.
func (d *lineDecoder) Next() ([]byte, error) {
	if cap(d.line) > maxRetainedBuffer {
		d.line = nil // one huge line must not pin its buffer for the rest of the session
	}
	d.line = d.line[:0]
	for {
		chunk, err := d.r.ReadSlice('\n')
		d.line = append(d.line, chunk...)
		size := len(d.line)
		if err == nil {
			size-- // the newline is not part of the message
		}
		if d.crlf && size > 0 && d.line[size-1] == '\r' && (err == nil || errors.Is(err, bufio.ErrBufferFull)) {
			size-- // the CR of CRLF, or maybe so: the next byte tells
		}
		if int64(size) > d.limit {
			return nil, &errTooLarge{what: "line", size: int64(size), limit: d.limit}
		}
		switch {
		case err == nil:
			return d.line[:size], nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF) && len(d.line) > 0:
			// Without a '\n' nothing ends the line: a last '\r' stays.
			return d.line, nil
		default:
			return nil, err
		}
	}
}

// Buffered reports whether bytes already read from the engine wait in the
// decoder, so the relay can batch writes without delaying anything.
func (d *lineDecoder) Buffered() int { return d.r.Buffered() }

// frameDecoder parses 4-byte big-endian length-prefixed frames.
type frameDecoder struct {
	r       *bufio.Reader
	limit   int64
	header  [4]byte
	payload []byte
}

func newFrameDecoder(r io.Reader, limit int64) *frameDecoder {
	return &frameDecoder{r: bufio.NewReaderSize(r, 4096), limit: limit}
}

// Next returns the next frame's payload, valid until the next call.
func (d *frameDecoder) Next() ([]byte, error) {
	if _, err := io.ReadFull(d.r, d.header[:]); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, errPartialFrame
		}
		return nil, err
	}
	n := int64(binary.BigEndian.Uint32(d.header[:]))
	if n > d.limit {
		return nil, &errTooLarge{what: "frame", size: n, limit: d.limit}
	}
	if int64(cap(d.payload)) < n {
		d.payload = make([]byte, n)
	}
	d.payload = d.payload[:n]
	if _, err := io.ReadFull(d.r, d.payload); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, errPartialFrame
		}
		return nil, err
	}
	if cap(d.payload) > maxRetainedBuffer {
		// One huge frame must not pin its buffer for the rest of the session.
		p := d.payload
		d.payload = nil
		return p, nil
	}
	return d.payload, nil
}

// Buffered reports bytes already read but not yet returned.
func (d *frameDecoder) Buffered() int { return d.r.Buffered() }

// maxRetainedBuffer caps the buffers a session keeps between messages, so an
// idle session costs little even after a burst of large messages.
const maxRetainedBuffer = 64 << 10

// appendFrameHeader appends the 4-byte big-endian length of an n-byte payload.
func appendFrameHeader(dst []byte, n int) []byte {
	return binary.BigEndian.AppendUint32(dst, uint32(n))
}

// utf8Validator checks a text message for UTF-8 as it arrives in pieces,
// without allocating: a rune cut by a piece boundary is kept (at most 3
// bytes) and finished with the next piece. RFC 6455 §8.1: a text message
// that is not UTF-8 fails the connection with 1007.
type utf8Validator struct {
	pending [utf8.UTFMax]byte
	n       int
}

func (v *utf8Validator) reset() { v.n = 0 }

// feed checks the next piece and reports whether the message is still valid.
func (v *utf8Validator) feed(p []byte) bool {
	for v.n > 0 && len(p) > 0 {
		v.pending[v.n] = p[0]
		v.n++
		p = p[1:]
		if utf8.FullRune(v.pending[:v.n]) {
			if !utf8.Valid(v.pending[:v.n]) {
				return false
			}
			v.n = 0
		}
	}
	if len(p) == 0 {
		return true
	}
	// Keep an unfinished rune at the end for the next piece.
	tail := len(p)
	for i := len(p) - 1; i >= 0 && i >= len(p)-(utf8.UTFMax-1); i-- {
		if utf8.RuneStart(p[i]) {
			if !utf8.FullRune(p[i:]) {
				tail = i
			}
			break
		}
	}
	if !utf8.Valid(p[:tail]) {
		return false
	}
	v.n = copy(v.pending[:], p[tail:])
	return true
}

// complete reports whether the message ended on a whole rune.
func (v *utf8Validator) complete() bool { return v.n == 0 }
