package bridge

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"orionbridge/internal/testutil"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// An engine that accepts but never reads must not pin sessions: with
// max_clients sessions flooding it, every session ends (the engine write
// makes no progress, or the browser is gone and a ping fails) and a new
// page gets in instead of 503.
func TestEngineThatStopsReadingReleasesSessions(t *testing.T) {
	tests := []struct {
		name string
		opts func(*Options)
		drop bool     // the browsers drop their TCP connections after flooding
		want []string // acceptable close reasons (prefixes)
	}{
		{
			// The browsers stay: the engine write's progress deadline ends
			// the sessions, and the browsers are told why.
			name: "browsers stay",
			opts: func(o *Options) { o.WriteTimeout = 300 * time.Millisecond },
			want: []string{"engine stopped reading for 300ms"},
		},
		{
			// The browsers go while the engine still has time: the next
			// ping fails and ends the session.
			name: "browsers drop TCP",
			opts: func(o *Options) { o.PingInterval, o.PongTimeout = 50*time.Millisecond, 10*time.Second },
			drop: true,
			want: []string{"browser connection lost: "},
		},
		{
			// The browsers go, and the engine is stuck: the session ends
			// within pong_timeout of the last frame, whatever the engine does.
			name: "browsers go silent, pong_timeout first",
			opts: func(o *Options) { o.PongTimeout = 300 * time.Millisecond },
			want: []string{"engine stopped reading for "},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			const max = 5
			e := startEngine(t, func(net.Conn) {}) // accepts, never reads; closed at cleanup
			b := startBridge(t, e.addr, func(o *Options) {
				o.MaxClients = max
				tt.opts(o)
			})
			sub := b.Subscribe(64)
			defer sub.Close()
			var clients []*websocket.Conn
			var sent [max]atomic.Int64
			var wg sync.WaitGroup
			for i := range max {
				c := mustDial(t, b)
				clients = append(clients, c)
				wg.Add(1)
				go func() {
					defer wg.Done()
					msg := make([]byte, 64<<10)
					for {
						c.SetWriteDeadline(time.Now().Add(20 * time.Second))
						if c.WriteMessage(websocket.BinaryMessage, msg) != nil {
							return
						}
						sent[i].Add(int64(len(msg)))
					}
				}()
			}
			for i := range max {
				waitStalled(t, "browser "+strconv.Itoa(i), &sent[i])
			}
			if tt.drop {
				for _, c := range clients {
					c.NetConn().Close()
				}
			}
			for range max {
				ev := nextEvent(t, sub, SessionClosed)
				if !hasAnyPrefix(ev.Session.CloseReason, tt.want) {
					t.Errorf("closed with %d %q, want one of %q", ev.Session.CloseCode, ev.Session.CloseReason, tt.want)
				}
				if strings.HasPrefix(ev.Session.CloseReason, "engine stopped") && ev.Session.CloseCode != websocket.CloseInternalServerErr {
					t.Errorf("engine stall closed with %d, want 1011", ev.Session.CloseCode)
				}
			}
			if !tt.drop {
				code, reason, _ := readClose(t, clients[0])
				if code != websocket.CloseInternalServerErr || !strings.HasPrefix(reason, tt.want[0]) {
					t.Errorf("the browser got %d %q", code, reason)
				}
			}
			for _, c := range clients {
				c.Close()
			}
			wg.Wait()
			testutil.WaitFor(t, "no sessions in /health", func() bool { return healthSessions(t, b) == 0 })
			c := mustDial(t, b) // not 503
			c.Close()
		})
	}
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

func healthSessions(t *testing.T, b *Bridge) int {
	t.Helper()
	resp := get(t, b, "/health", nil)
	defer resp.Body.Close()
	var h Health
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
		t.Fatal(err)
	}
	return h.Sessions
}

// A message the engine's framing cannot carry, or a text message that is
// not UTF-8, closes the session with 1007, and the engine sees none of it.
func TestMalformedMessagesClose1007(t *testing.T) {
	// 4-byte runes after one byte: a rune straddles each chunk boundary
	// (64 KiB raw, 64 KiB-4 length-prefixed, 64 KiB-1 lines).
	big := "a" + strings.Repeat("\U0001F600", relayBufferSize/2)
	tests := []struct {
		name    string
		framing Framing
		typ     int
		msg     string
		want    string // close reason; "" means relayed
		wantTCP string // what the engine gets (for relayed messages)
	}{
		{"lines LF", FramingLines, websocket.TextMessage, "cmd1\ncmd2", "message contains a line break", ""},
		{"lines CR", FramingLines, websocket.TextMessage, "cmd1\rcmd2", "message contains a line break", ""},
		{"lines binary LF", FramingLines, websocket.BinaryMessage, "a\nb", "message contains a line break", ""},
		{"lines LF after a chunk", FramingLines, websocket.TextMessage, big + "\n", "message contains a line break", ""},
		{"lines bad UTF-8", FramingLines, websocket.TextMessage, "ok\xff", "invalid UTF-8", ""},
		{"lines cut rune at the end", FramingLines, websocket.TextMessage, big + "\xc3", "invalid UTF-8", ""},
		{"length-prefixed bad UTF-8", FramingLengthPrefixed, websocket.TextMessage, "\xed\xa0\x80", "invalid UTF-8", ""},
		{"raw bad UTF-8", FramingRaw, websocket.TextMessage, "abc\xc0\xafdef", "invalid UTF-8", ""},
		{"raw cut rune at the end", FramingRaw, websocket.TextMessage, "abc\xe2\x82", "invalid UTF-8", ""},
		{"raw binary is not checked", FramingRaw, websocket.BinaryMessage, "\xff\n", "", "\xff\n"},
		{"raw long valid text", FramingRaw, websocket.TextMessage, big, "", big},
		{"lines long valid text", FramingLines, websocket.TextMessage, big, "", big + "\n"},
		{"length-prefixed long valid text", FramingLengthPrefixed, websocket.TextMessage, big, "", string(appendFrameHeader(nil, len(big))) + big},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conns := make(chan net.Conn, 1)
			e := startEngine(t, accepted(conns))
			b := startBridge(t, e.addr, func(o *Options) { o.Routes[0].Framing = tt.framing })
			c := mustDial(t, b)
			tcp := recvConn(t, conns)
			if err := c.WriteMessage(tt.typ, []byte(tt.msg)); err != nil {
				t.Fatal(err)
			}
			if tt.want == "" {
				got := make([]byte, len(tt.wantTCP))
				tcp.SetReadDeadline(time.Now().Add(10 * time.Second))
				if _, err := io.ReadFull(tcp, got); err != nil || string(got) != tt.wantTCP {
					t.Fatalf("engine got %d bytes (%v), want %d", len(got), err, len(tt.wantTCP))
				}
				return
			}
			code, reason, _ := readClose(t, c)
			if code != websocket.CloseInvalidFramePayloadData || !strings.HasPrefix(reason, tt.want) {
				t.Errorf("close %d %q, want 1007 %q", code, reason, tt.want)
			}
			tcp.SetReadDeadline(time.Now().Add(10 * time.Second))
			got, err := io.ReadAll(tcp)
			if len(got) > 0 || err != nil {
				t.Errorf("the engine saw %q (%v) of a refused message", got, err)
			}
		})
	}
}

// RFC 6455 §5.5.1: a close payload is empty or holds a 2-byte code; one byte
// is a protocol error (1002). gorilla reads it as "no status" (1005).
func TestCloseFramePayloads(t *testing.T) {
	tests := []struct {
		name    string
		payload []byte
		want    int // the code the bridge answers with
	}{
		{"one byte", []byte{0x03}, websocket.CloseProtocolError},
		{"empty", nil, websocket.CloseNoStatusReceived}, // an empty answer
		{"code", websocket.FormatCloseMessage(4000, "bye"), 4000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := startEngine(t, echo)
			b := startBridge(t, e.addr, nil)
			sub := b.Subscribe(64)
			defer sub.Close()
			c := mustDial(t, b)
			nextEvent(t, sub, SessionOpened)
			if err := c.WriteControl(websocket.CloseMessage, tt.payload, time.Now().Add(5*time.Second)); err != nil {
				t.Fatal(err)
			}
			if code, _, _ := readClose(t, c); code != tt.want {
				t.Errorf("the bridge answered %d, want %d", code, tt.want)
			}
			if ev := nextEvent(t, sub, SessionClosed); ev.Session.CloseCode != tt.want {
				t.Errorf("session closed with %d %q", ev.Session.CloseCode, ev.Session.CloseReason)
			}
		})
	}
}

// A browser that floods pings and reads nothing ends the session with a
// reason that says so, not "no pong from the browser".
func TestPingFloodIsNamed(t *testing.T) {
	e := startEngine(t, echo)
	b := startBridge(t, e.addr, func(o *Options) { o.WriteTimeout = 300 * time.Millisecond })
	sub := b.Subscribe(64)
	defer sub.Close()
	c := mustDial(t, b)
	nextEvent(t, sub, SessionOpened)
	done := make(chan struct{})
	go func() {
		defer close(done)
		ping := bytes.Repeat([]byte{'p'}, 125)
		for c.WriteControl(websocket.PingMessage, ping, time.Now().Add(20*time.Second)) == nil {
		}
	}()
	ev := nextEvent(t, sub, SessionClosed)
	if want := "browser stopped reading: a pong waited 300ms to be written"; ev.Session.CloseReason != want {
		t.Errorf("closed with %d %q, want %q", ev.Session.CloseCode, ev.Session.CloseReason, want)
	}
	c.Close()
	<-done
}

// Any frame from the browser shows it is alive, not only a pong: a pong
// stuck behind a long upload, or a browser that pings instead of answering,
// must not end a healthy session.
func TestAnyFrameKeepsSessionAlive(t *testing.T) {
	const pongTimeout = 300 * time.Millisecond
	const span = 5 * pongTimeout // how long each browser keeps going
	tests := []struct {
		name   string
		browse func(t *testing.T, c *websocket.Conn) int // returns the bytes the engine must get
	}{
		{"one long frame arriving slowly", func(t *testing.T, c *websocket.Conn) int {
			const size = 3000
			frame := maskedFrame(size)
			piece := len(frame) / int(span/(50*time.Millisecond))
			for len(frame) > 0 {
				n := min(piece, len(frame))
				if _, err := c.NetConn().Write(frame[:n]); err != nil {
					t.Fatal(err)
				}
				frame = frame[n:]
				time.Sleep(50 * time.Millisecond)
			}
			return size
		}},
		{"pings, no pongs", func(t *testing.T, c *websocket.Conn) int {
			for end := time.Now().Add(span); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
				if err := c.WriteControl(websocket.PingMessage, nil, time.Now().Add(time.Second)); err != nil {
					t.Fatal(err)
				}
			}
			return 0
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got atomic.Int64
			e := startEngine(t, func(c net.Conn) {
				n, _ := io.Copy(io.Discard, c)
				got.Add(n)
			})
			b := startBridge(t, e.addr, func(o *Options) {
				o.PingInterval, o.PongTimeout = 100*time.Millisecond, pongTimeout
			})
			sub := b.Subscribe(64)
			defer sub.Close()
			c := mustDial(t, b) // never reads, so never answers a ping
			nextEvent(t, sub, SessionOpened)
			want := tt.browse(t, c)
			if snap := b.Snapshot(); len(snap.Sessions) != 1 {
				ev := nextEvent(t, sub, SessionClosed)
				t.Fatalf("the session ended with %d %q while the browser kept sending", ev.Session.CloseCode, ev.Session.CloseReason)
			}
			// Then silence ends it.
			ev := nextEvent(t, sub, SessionClosed)
			if !strings.HasPrefix(ev.Session.CloseReason, "no pong or other frame from the browser within") {
				t.Errorf("closed with %q", ev.Session.CloseReason)
			}
			if ev.Session.BytesToEngine != int64(want) {
				t.Errorf("the engine got %d bytes, want %d", ev.Session.BytesToEngine, want)
			}
		})
	}
}
