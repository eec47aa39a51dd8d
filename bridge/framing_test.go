package bridge

import (
	"bytes"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"
)

// chunkReader hands out data in reads of the given sizes, cycling, so
// messages split across TCP reads and several messages in one read occur.
type chunkReader struct {
	data  []byte
	sizes []byte
	i     int
}

func (r *chunkReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	n := 1
	if len(r.sizes) > 0 {
		n = int(r.sizes[r.i%len(r.sizes)]) + 1
		r.i++
	}
	n = min(n, len(p), len(r.data))
	copy(p, r.data[:n])
	r.data = r.data[n:]
	return n, nil
}

// FuzzLineDecoder checks the decoder against a plain model: split the
// stream after each '\n', drop it (and with crlf a '\r' right before it),
// keep a last line without a newline as it is, and stop at the first line
// longer than the limit.
func FuzzLineDecoder(f *testing.F) {
	f.Add([]byte("one\ntwo\n"), []byte{0}, uint16(16), false)
	f.Add([]byte("split across\nreads and no newline at the end"), []byte{3, 200}, uint16(64), false)
	f.Add([]byte("\n\n\n"), []byte{}, uint16(1), false)
	f.Add([]byte("too long for the limit\n"), []byte{5}, uint16(4), false)
	f.Add([]byte("exactly4\nfour\n"), []byte{255}, uint16(4), false)
	f.Add([]byte("\xff\xfe invalid utf-8\n"), []byte{1}, uint16(100), false)
	f.Add([]byte("keeps\r\nits cr\r\n"), []byte{2}, uint16(16), false)
	f.Add([]byte("+OK\r\n$6\r\nbridge\r\n"), []byte{0, 3}, uint16(16), true)
	f.Add([]byte("abcd\r\nabcd\re\n"), []byte{4}, uint16(3), true) // 4 bytes + CRLF at limit 4
	f.Add([]byte("mid\rline\r\nlast\r"), []byte{1, 9}, uint16(20), true)
	f.Add([]byte("\r\r\n\r\n\n"), []byte{0}, uint16(1), true)
	f.Fuzz(func(t *testing.T, data, sizes []byte, limit uint16, crlf bool) {
		lim := int64(limit) + 1
		ending := LineEndingLF
		if crlf {
			ending = LineEndingCRLF
		}
		d := newLineDecoder(&chunkReader{data: data, sizes: sizes}, lim, ending)
		rest := data
		for i := 0; ; i++ {
			// The model's next line.
			var want []byte
			nl := bytes.IndexByte(rest, '\n')
			switch {
			case nl >= 0:
				want, rest = rest[:nl], rest[nl+1:]
				if crlf {
					want = bytes.TrimSuffix(want, []byte("\r"))
				}
			case len(rest) > 0:
				want, rest = rest, nil
			default:
				want = nil
			}
			line, err := d.Next()
			switch {
			case want == nil:
				if !errors.Is(err, io.EOF) {
					t.Fatalf("line %d: got %q, %v; want io.EOF", i, line, err)
				}
				return
			case int64(len(want)) > lim:
				var tooLarge *errTooLarge
				if !errors.As(err, &tooLarge) {
					t.Fatalf("line %d: got %q, %v; want too large (%d bytes, limit %d)", i, line, err, len(want), lim)
				}
				return
			case err != nil || !bytes.Equal(line, want):
				t.Fatalf("line %d: got %q, %v; want %q", i, line, err, want)
			}
		}
	})
}

// The decoder's edge cases by name, in both line endings.
func TestLineDecoderEndings(t *testing.T) {
	tests := []struct {
		name   string
		ending LineEnding
		data   string
		limit  int64
		want   []string
		tooBig bool // the stream ends in a line over the limit
	}{
		{"lf keeps a CR", LineEndingLF, "+OK\r\n", 16, []string{"+OK\r"}, false},
		{"crlf strips the CR of CRLF", LineEndingCRLF, "+OK\r\n$6\r\nbridge\r\n", 16, []string{"+OK", "$6", "bridge"}, false},
		{"crlf takes a bare LF too", LineEndingCRLF, "a\nb\r\n", 16, []string{"a", "b"}, false},
		{"crlf keeps a CR inside a line", LineEndingCRLF, "a\rb\r\n", 16, []string{"a\rb"}, false},
		{"crlf removes one CR only", LineEndingCRLF, "a\r\r\n", 16, []string{"a\r"}, false},
		{"crlf keeps a last CR with no LF", LineEndingCRLF, "last\r", 16, []string{"last\r"}, false},
		{"crlf line at the limit", LineEndingCRLF, "abcd\r\n", 4, []string{"abcd"}, false},
		{"lf line at the limit with a CR", LineEndingLF, "abcd\r\n", 4, nil, true},
		{"crlf line over the limit", LineEndingCRLF, "abcde\r\n", 4, nil, true},
		{"crlf CR then more bytes", LineEndingCRLF, "abcd\rx\r\n", 4, nil, true},
		{"empty lines", LineEndingCRLF, "\r\n\n", 4, []string{"", ""}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// One byte per read, so every split point is crossed.
			d := newLineDecoder(&chunkReader{data: []byte(tt.data)}, tt.limit, tt.ending)
			var got []string
			for {
				line, err := d.Next()
				if err == nil {
					got = append(got, string(line))
					continue
				}
				var tooLarge *errTooLarge
				if big := errors.As(err, &tooLarge); big != tt.tooBig || !big && !errors.Is(err, io.EOF) {
					t.Fatalf("ended with %v, want too large: %v", err, tt.tooBig)
				}
				break
			}
			if strings.Join(got, "|") != strings.Join(tt.want, "|") || len(got) != len(tt.want) {
				t.Errorf("lines %q, want %q", got, tt.want)
			}
		})
	}
}

func TestLineEndingValid(t *testing.T) {
	for e, want := range map[LineEnding]bool{"": true, LineEndingLF: true, LineEndingCRLF: true, "CRLF": false, "cr": false, "\r\n": false} {
		if e.Valid() != want {
			t.Errorf("LineEnding(%q).Valid() = %v, want %v", e, !want, want)
		}
	}
}

func FuzzFrameDecoder(f *testing.F) {
	frame := func(p string) []byte { return append(binary.BigEndian.AppendUint32(nil, uint32(len(p))), p...) }
	f.Add(append(frame("hello"), frame("")...), []byte{0}, uint16(16))
	f.Add(append(frame("split"), frame("frames")...), []byte{2, 7}, uint16(16))
	f.Add(frame("too large for the limit"), []byte{}, uint16(3))
	f.Add([]byte{0, 0}, []byte{}, uint16(3))             // a header cut short
	f.Add([]byte{0, 0, 0, 9, 'a'}, []byte{}, uint16(20)) // a payload cut short
	f.Add([]byte{0xff, 0xff, 0xff, 0xff}, []byte{}, uint16(100))
	f.Fuzz(func(t *testing.T, data, sizes []byte, limit uint16) {
		lim := int64(limit)
		d := newFrameDecoder(&chunkReader{data: data, sizes: sizes}, lim)
		var rebuilt []byte
		for {
			p, err := d.Next()
			var tooLarge *errTooLarge
			switch {
			case err == nil:
				if int64(len(p)) > lim {
					t.Fatalf("frame of %d bytes passed limit %d", len(p), lim)
				}
				rebuilt = append(appendFrameHeader(rebuilt, len(p)), p...)
				continue
			case errors.Is(err, io.EOF):
				if !bytes.Equal(rebuilt, data) {
					t.Fatalf("EOF after %q of %q", rebuilt, data)
				}
			case errors.Is(err, errPartialFrame):
				rest := data[len(rebuilt):]
				if !bytes.HasPrefix(data, rebuilt) || len(rest) == 0 {
					t.Fatalf("partial frame reported for %q after %q", data, rebuilt)
				}
				if len(rest) >= 4 && int64(len(rest)-4) >= int64(binary.BigEndian.Uint32(rest)) {
					t.Fatalf("a whole frame was reported partial: %q", rest)
				}
			case errors.As(err, &tooLarge):
				rest := data[len(rebuilt):]
				if len(rest) < 4 || int64(binary.BigEndian.Uint32(rest)) <= lim {
					t.Fatalf("frame refused as too large: %q, limit %d", rest, lim)
				}
			default:
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
	})
}

// The decoders must pass a reader's error through, not hide it as EOF.
func TestDecodersReportReadErrors(t *testing.T) {
	boom := errors.New("boom")
	if _, err := newLineDecoder(iotest.ErrReader(boom), 10, LineEndingLF).Next(); !errors.Is(err, boom) {
		t.Errorf("lines: %v", err)
	}
	if _, err := newFrameDecoder(iotest.ErrReader(boom), 10).Next(); !errors.Is(err, boom) {
		t.Errorf("frames: %v", err)
	}
}

func TestFramingValid(t *testing.T) {
	for f, want := range map[Framing]bool{FramingRaw: true, FramingLines: true, FramingLengthPrefixed: true, "json": false, "": false} {
		if f.Valid() != want {
			t.Errorf("%q.Valid() = %v", f, !want)
		}
	}
}

// The UTF-8 check must agree with utf8.Valid however a message is cut
// into pieces.
func FuzzUTF8Validator(f *testing.F) {
	f.Add([]byte("héllo wörld €𝄞"), []byte{0, 1, 2})
	f.Add([]byte("\xe2\x82"), []byte{0})
	f.Add([]byte("a\xc0\xafb"), []byte{1})
	f.Add([]byte("\xed\xa0\x80"), []byte{0, 0})
	f.Add([]byte("\xf0\x9f\x98\x80\xf0\x9f"), []byte{2, 3})
	f.Fuzz(func(t *testing.T, msg, cuts []byte) {
		var v utf8Validator
		ok := true
		rest := msg
		for i := 0; len(rest) > 0 && ok; i++ {
			n := len(rest)
			if len(cuts) > 0 {
				n = min(int(cuts[i%len(cuts)])+1, len(rest))
			}
			ok = v.feed(rest[:n])
			rest = rest[n:]
		}
		ok = ok && v.complete()
		if want := utf8.Valid(msg); ok != want {
			t.Fatalf("%q cut by %v: validator says %v, utf8.Valid %v", msg, cuts, ok, want)
		}
	})
}

// A `lines` route relays with its line ending, over real sockets: what the
// engine gets for each browser message, what the browser gets for the
// engine's bytes, the 1007 rule for line breaks, and max_message_bytes,
// which counts the message and never its line ending.
func TestLinesLineEndingThroughBridge(t *testing.T) {
	big := strings.Repeat("x", relayBufferSize-1) // the terminator crosses the chunk's end
	tests := []struct {
		name     string
		ending   LineEnding
		send     []string // browser → engine, text messages
		wantTCP  string
		tcpSends string // engine → browser, in one write
		want     []string
	}{
		{
			name: "lf", ending: LineEndingLF,
			send: []string{"GET orion", ""}, wantTCP: "GET orion\n\n",
			tcpSends: "+OK\r\n$6\r\nbridge\r\nplain\n",
			want:     []string{"+OK\r", "$6\r", "bridge\r", "plain"}, // byte for byte, as before
		},
		{
			name: "default is lf", ending: "",
			send: []string{"PING"}, wantTCP: "PING\n",
			tcpSends: "+PONG\r\n", want: []string{"+PONG\r"},
		},
		{
			name: "crlf", ending: LineEndingCRLF,
			send: []string{"SET orion bridge", "GET orion", ""}, wantTCP: "SET orion bridge\r\nGET orion\r\n\r\n",
			tcpSends: "+OK\r\n$6\r\nbridge\r\nbare lf\nmid\rcr\r\ncr cr\r\r\n",
			want:     []string{"+OK", "$6", "bridge", "bare lf", "mid\rcr", "cr cr\r"},
		},
		{
			name: "crlf message over a chunk", ending: LineEndingCRLF,
			send: []string{big}, wantTCP: big + "\r\n",
			tcpSends: big + "\r\n", want: []string{big},
		},
		{
			name: "crlf at max_message_bytes", ending: LineEndingCRLF,
			send: []string{strings.Repeat("m", 1<<20)}, wantTCP: strings.Repeat("m", 1<<20) + "\r\n",
			tcpSends: strings.Repeat("e", 1<<20) + "\r\n", want: []string{strings.Repeat("e", 1<<20)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conns := make(chan net.Conn, 1)
			e := startEngine(t, accepted(conns))
			b := startBridge(t, e.addr, func(o *Options) {
				o.MaxMessageBytes = 1 << 20
				o.Routes[0].Framing, o.Routes[0].LineEnding = FramingLines, tt.ending
			})
			c := mustDial(t, b)
			tcp := recvConn(t, conns)
			for _, m := range tt.send {
				if err := c.WriteMessage(websocket.TextMessage, []byte(m)); err != nil {
					t.Fatal(err)
				}
			}
			got := make([]byte, len(tt.wantTCP))
			tcp.SetReadDeadline(time.Now().Add(10 * time.Second))
			if _, err := io.ReadFull(tcp, got); err != nil || string(got) != tt.wantTCP {
				t.Fatalf("engine got %.80q (%v), want %.80q", got, err, tt.wantTCP)
			}
			if _, err := tcp.Write([]byte(tt.tcpSends)); err != nil {
				t.Fatal(err)
			}
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			for i, want := range tt.want {
				typ, p, err := c.ReadMessage()
				if err != nil || string(p) != want || typ != websocket.TextMessage {
					t.Fatalf("message %d: got %.80q type %d (%v), want %.80q", i, p, typ, err, want)
				}
			}
		})
	}
}

// The limits apply alike in both endings: a line break in a browser message
// is refused with 1007 before the engine sees any of it, and an engine line
// over max_message_bytes ends the session with 1009 naming the limit.
func TestLinesLineEndingLimits(t *testing.T) {
	tests := []struct {
		name      string
		ending    LineEnding
		send      string // a browser message; "" to skip
		tcp       string // engine bytes; "" to skip
		wantCode  int
		wantClose string
		delivered []string // messages before the close
	}{
		{"crlf refuses CR", LineEndingCRLF, "GET orion\r", "", websocket.CloseInvalidFramePayloadData, "message contains a line break", nil},
		{"crlf refuses LF", LineEndingCRLF, "a\nb", "", websocket.CloseInvalidFramePayloadData, "message contains a line break", nil},
		{"lf refuses CR", LineEndingLF, "a\rb", "", websocket.CloseInvalidFramePayloadData, "message contains a line break", nil},
		// 16 bytes and CRLF pass; 17 do not, CRLF or not.
		{"crlf engine line over the limit", LineEndingCRLF, "", strings.Repeat("a", 16) + "\r\n" + strings.Repeat("b", 17) + "\r\n",
			websocket.CloseMessageTooBig, "engine line exceeds max_message_bytes 16", []string{strings.Repeat("a", 16)}},
		// With lf the CR is part of the message, so 16 bytes and CR are 17.
		{"lf counts the CR", LineEndingLF, "", strings.Repeat("a", 15) + "\r\n" + strings.Repeat("b", 16) + "\r\n",
			websocket.CloseMessageTooBig, "engine line exceeds max_message_bytes 16", []string{strings.Repeat("a", 15) + "\r"}},
		{"crlf browser message over the limit", LineEndingCRLF, strings.Repeat("c", 17), "", websocket.CloseMessageTooBig, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conns := make(chan net.Conn, 1)
			e := startEngine(t, accepted(conns))
			b := startBridge(t, e.addr, func(o *Options) {
				o.MaxMessageBytes = 16
				o.Routes[0].Framing, o.Routes[0].LineEnding = FramingLines, tt.ending
			})
			c := mustDial(t, b)
			tcp := recvConn(t, conns)
			if tt.send != "" {
				if err := c.WriteMessage(websocket.TextMessage, []byte(tt.send)); err != nil {
					t.Fatal(err)
				}
			}
			if tt.tcp != "" {
				if _, err := tcp.Write([]byte(tt.tcp)); err != nil {
					t.Fatal(err)
				}
			}
			code, reason, data := readClose(t, c)
			if code != tt.wantCode || !strings.HasPrefix(reason, tt.wantClose) {
				t.Errorf("close %d %q, want %d %q", code, reason, tt.wantCode, tt.wantClose)
			}
			var got []string
			for _, p := range data {
				got = append(got, string(p))
			}
			if strings.Join(got, "|") != strings.Join(tt.delivered, "|") {
				t.Errorf("delivered %q before the close, want %q", got, tt.delivered)
			}
			if tt.send != "" {
				tcp.SetReadDeadline(time.Now().Add(10 * time.Second))
				if seen, _ := io.ReadAll(tcp); len(seen) > 0 {
					t.Errorf("the engine saw %q of a refused message", seen)
				}
			}
		})
	}
}

// The bridge declines permessage-deflate (see README, Security model: no
// compression): a client that offers it, as browsers and Node's ws do by
// default, gets no Sec-WebSocket-Extensions and relays in plain frames.
func TestCompressionOfferDeclined(t *testing.T) {
	e := startEngine(t, echo)
	b := startBridge(t, e.addr, func(o *Options) { o.Routes[0].Framing, o.Routes[0].LineEnding = FramingLines, LineEndingCRLF })
	d := websocket.Dialer{
		TLSClientConfig:   &tls.Config{RootCAs: newTestCA(t).pool, ServerName: "localhost"},
		HandshakeTimeout:  30 * time.Second,
		EnableCompression: true, // offers permessage-deflate
	}
	c, resp, err := d.Dial("wss://127.0.0.1:"+strconv.Itoa(b.Port())+"/ws", http.Header{"Origin": {testOrigin}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if ext := resp.Header.Get("Sec-WebSocket-Extensions"); ext != "" {
		t.Fatalf("the bridge negotiated %q", ext)
	}
	msg := strings.Repeat("compressible ", 1000)
	if err := c.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, p, err := c.ReadMessage(); err != nil || string(p) != msg {
		t.Fatalf("echo of %d bytes: %d bytes, %v", len(msg), len(p), err)
	}
}
