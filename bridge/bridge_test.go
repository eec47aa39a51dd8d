package bridge

import (
	"bytes"
	"crypto/tls"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"orionbridge/internal/testutil"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

func TestUpgradeChecks(t *testing.T) {
	e := startEngine(t, echo)
	b := startBridge(t, e.addr, func(o *Options) {
		o.AllowedOrigins = []string{testOrigin, "https://*.shop.example"}
		o.Token = "s3cret"
	})
	port := strconv.Itoa(b.Port())
	tests := []struct {
		name   string
		d      dialOpts
		status int
		body   string
	}{
		{"query token", dialOpts{query: "token=s3cret"}, http.StatusSwitchingProtocols, ""},
		{"subprotocol token", dialOpts{protocols: []string{"bearer.s3cret"}}, http.StatusSwitchingProtocols, ""},
		{"wildcard origin", dialOpts{origin: "https://a.b.shop.example", query: "token=s3cret"}, http.StatusSwitchingProtocols, ""},
		{"localhost host", dialOpts{host: "localhost:" + port, query: "token=s3cret"}, http.StatusSwitchingProtocols, ""},
		{"ipv6 host", dialOpts{host: "[::1]:" + port, query: "token=s3cret"}, http.StatusSwitchingProtocols, ""},
		{"bridge's own page", dialOpts{origin: "https://localhost:" + port, query: "token=s3cret"}, http.StatusSwitchingProtocols, ""},
		{"rebinding host", dialOpts{host: "evil.example:" + port, query: "token=s3cret"}, http.StatusForbidden, "DNS rebinding"},
		{"host without port", dialOpts{host: "localhost", query: "token=s3cret"}, http.StatusForbidden, "Host"},
		{"host with other port", dialOpts{host: "localhost:1", query: "token=s3cret"}, http.StatusForbidden, "Host"},
		{"missing origin", dialOpts{origin: "-", query: "token=s3cret"}, http.StatusForbidden, "no Origin"},
		{"unlisted origin", dialOpts{origin: "https://evil.example", query: "token=s3cret"}, http.StatusForbidden, "https://evil.example is not allowed"},
		{"wildcard needs a subdomain", dialOpts{origin: "https://shop.example", query: "token=s3cret"}, http.StatusForbidden, "not allowed"},
		{"scheme must match", dialOpts{origin: "http://editor.example.com", query: "token=s3cret"}, http.StatusForbidden, "not allowed"},
		{"null origin", dialOpts{origin: "null", query: "token=s3cret"}, http.StatusForbidden, "not allowed"},
		{"missing token", dialOpts{}, http.StatusUnauthorized, "missing token"},
		{"wrong token", dialOpts{query: "token=guess"}, http.StatusUnauthorized, "wrong token"},
		{"wrong subprotocol token", dialOpts{protocols: []string{"bearer.guess"}}, http.StatusUnauthorized, "wrong token"},
		{"unknown path", dialOpts{path: "/nope", query: "token=s3cret"}, http.StatusNotFound, "/ws"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, resp, err := dial(t, b, tt.d)
			if resp == nil {
				t.Fatalf("no HTTP response: %v", err)
			}
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d (err %v)", resp.StatusCode, tt.status, err)
			}
			if c != nil {
				c.Close()
				return
			}
			body, _ := io.ReadAll(resp.Body)
			if !strings.Contains(string(body), tt.body) {
				t.Errorf("body %q does not mention %q", body, tt.body)
			}
			if strings.Contains(string(body), "s3cret") {
				t.Errorf("body leaks the token: %q", body)
			}
		})
	}
}

func TestSubprotocolEchoed(t *testing.T) {
	e := startEngine(t, echo)
	b := startBridge(t, e.addr, func(o *Options) { o.Token = "tok" })
	for _, offered := range [][]string{{"bearer.tok"}, {"orion.v1", "bearer.tok"}} {
		c, _, err := dial(t, b, dialOpts{protocols: offered})
		if err != nil {
			t.Fatal(err)
		}
		want := offered[0]
		if got := c.Subprotocol(); got != want {
			t.Errorf("offered %v: got subprotocol %q, want %q", offered, got, want)
		}
		c.Close()
	}
}

func TestPlainRequestToRouteIs400(t *testing.T) {
	b := startBridge(t, "127.0.0.1:1", nil)
	resp := get(t, b, "/ws", nil)
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("status %d, want 400", resp.StatusCode)
	}
	body, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(body), "WebSocket endpoint") {
		t.Errorf("body %q does not explain", body)
	}
}

func TestTokenNeverLogged(t *testing.T) {
	e := startEngine(t, echo)
	var logs bytes.Buffer
	var mu sync.Mutex
	b := startBridge(t, e.addr, func(o *Options) {
		o.Token = "s3cret-token"
		o.LogHandler = lockedHandler(&mu, &logs)
	})
	dial(t, b, dialOpts{query: "token=wrong-s3cret"})
	c, _, err := dial(t, b, dialOpts{query: "token=s3cret-token"})
	if err != nil {
		t.Fatal(err)
	}
	c.WriteMessage(websocket.TextMessage, []byte("hi"))
	c.ReadMessage()
	c.Close()
	testutil.WaitFor(t, "session close", func() bool { return len(b.Snapshot().Sessions) == 0 })
	mu.Lock()
	defer mu.Unlock()
	if strings.Contains(logs.String(), "s3cret") {
		t.Fatalf("a token reached the log:\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), "wrong token") {
		t.Fatalf("the refusal was not logged with its reason:\n%s", logs.String())
	}
}

func TestMaxClients(t *testing.T) {
	e := startEngine(t, echo)
	b := startBridge(t, e.addr, func(o *Options) { o.MaxClients = 2 })
	mustDial(t, b)
	second := mustDial(t, b)
	_, resp, err := dial(t, b, dialOpts{})
	if resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("third session: %v %v, want 503", resp, err)
	}
	second.Close()
	testutil.WaitFor(t, "a free slot", func() bool { return len(b.Snapshot().Sessions) == 1 })
	mustDial(t, b)
}

func TestFraming(t *testing.T) {
	frame := func(p string) string {
		return string(binary.BigEndian.AppendUint32(nil, uint32(len(p)))) + p
	}
	tests := []struct {
		framing Framing
		// browser → engine
		send     []string
		wantTCP  string
		tcpSends []string // engine → browser, each one TCP write with a pause after
		want     []string // messages the browser gets
		wantType []int
	}{
		{
			framing: FramingRaw,
			send:    []string{"hello", "", "wörld\x00"}, wantTCP: "hellowörld\x00",
			tcpSends: []string{"abc", "def"}, want: []string{"abc", "def"},
			wantType: []int{websocket.BinaryMessage, websocket.BinaryMessage},
		},
		{
			framing: FramingLines,
			send:    []string{"one", "two words", ""}, wantTCP: "one\ntwo words\n\n",
			// a line split across reads, two lines in one read, invalid UTF-8
			tcpSends: []string{"spl", "it\nfirst\nsecond\n", "\xff\xfe\n"},
			want:     []string{"split", "first", "second", "\xff\xfe"},
			wantType: []int{websocket.TextMessage, websocket.TextMessage, websocket.TextMessage, websocket.BinaryMessage},
		},
		{
			framing: FramingLengthPrefixed,
			send:    []string{"abc", ""}, wantTCP: frame("abc") + frame(""),
			// a header split across reads, a payload split, two frames in one read
			tcpSends: []string{"\x00\x00", "\x00\x05he", "llo" + frame("x") + frame("yz")},
			want:     []string{"hello", "x", "yz"},
			wantType: []int{websocket.BinaryMessage, websocket.BinaryMessage, websocket.BinaryMessage},
		},
	}
	for _, tt := range tests {
		t.Run(string(tt.framing), func(t *testing.T) {
			conns := make(chan net.Conn, 1)
			e := startEngine(t, accepted(conns))
			b := startBridge(t, e.addr, func(o *Options) { o.Routes[0].Framing = tt.framing })
			c := mustDial(t, b)
			tcp := recvConn(t, conns)

			for i, m := range tt.send {
				typ := websocket.BinaryMessage
				if i%2 == 0 {
					typ = websocket.TextMessage
				}
				if err := c.WriteMessage(typ, []byte(m)); err != nil {
					t.Fatal(err)
				}
			}
			got := make([]byte, len(tt.wantTCP))
			tcp.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, err := io.ReadFull(tcp, got); err != nil {
				t.Fatalf("engine read: %v (got %q)", err, got)
			}
			if string(got) != tt.wantTCP {
				t.Errorf("engine got %q, want %q", got, tt.wantTCP)
			}

			for _, s := range tt.tcpSends {
				if _, err := tcp.Write([]byte(s)); err != nil {
					t.Fatal(err)
				}
				// Let the bridge read each write separately, so splits are real.
				time.Sleep(20 * time.Millisecond)
			}
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			for i, want := range tt.want {
				typ, p, err := c.ReadMessage()
				if err != nil {
					t.Fatalf("message %d: %v", i, err)
				}
				if string(p) != want || typ != tt.wantType[i] {
					t.Errorf("message %d: got %q type %d, want %q type %d", i, p, typ, want, tt.wantType[i])
				}
			}
		})
	}
}

func TestBrowserMessageTooLarge(t *testing.T) {
	conns := make(chan net.Conn, 1)
	e := startEngine(t, accepted(conns))
	b := startBridge(t, e.addr, func(o *Options) { o.MaxMessageBytes = 1024 })
	c := mustDial(t, b)
	tcp := recvConn(t, conns)
	if err := c.WriteMessage(websocket.BinaryMessage, make([]byte, 1025)); err != nil {
		t.Fatal(err)
	}
	code, _, _ := readClose(t, c)
	if code != websocket.CloseMessageTooBig {
		t.Fatalf("close code %d, want 1009", code)
	}
	assertEngineClosed(t, tcp)
}

func TestEngineMessageTooLarge(t *testing.T) {
	for _, f := range []Framing{FramingLines, FramingLengthPrefixed} {
		t.Run(string(f), func(t *testing.T) {
			conns := make(chan net.Conn, 1)
			e := startEngine(t, accepted(conns))
			b := startBridge(t, e.addr, func(o *Options) { o.MaxMessageBytes = 1024; o.Routes[0].Framing = f })
			c := mustDial(t, b)
			tcp := recvConn(t, conns)
			big := strings.Repeat("x", 2000)
			if f == FramingLengthPrefixed {
				big = string(binary.BigEndian.AppendUint32(nil, 2000)) + big
			}
			// A message at the limit still passes.
			ok := strings.Repeat("y", 1024) + "\n"
			if f == FramingLengthPrefixed {
				ok = string(binary.BigEndian.AppendUint32(nil, 1024)) + strings.Repeat("y", 1024)
			}
			tcp.Write([]byte(ok + big))
			code, reason, data := readClose(t, c)
			if code != websocket.CloseMessageTooBig || !strings.Contains(reason, "max_message_bytes") {
				t.Fatalf("close %d %q, want 1009 naming max_message_bytes", code, reason)
			}
			if len(data) != 1 || len(data[0]) != 1024 {
				t.Errorf("the message at the limit was not delivered: %d messages", len(data))
			}
			assertEngineClosed(t, tcp)
		})
	}
}

func assertEngineClosed(t *testing.T, tcp net.Conn) {
	t.Helper()
	tcp.SetReadDeadline(time.Now().Add(5 * time.Second))
	// EOF, or a reset when the bridge dropped unread data: both mean closed.
	var ne net.Error
	if _, err := io.Copy(io.Discard, tcp); errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("the bridge did not drop the engine connection: %v", err)
	}
}

func TestEngineUnavailable(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	b := startBridge(t, addr, nil)
	c := mustDial(t, b)
	code, reason, _ := readClose(t, c)
	if code != websocket.CloseTryAgainLater {
		t.Fatalf("close code %d, want 1013", code)
	}
	if want := "engine unavailable at " + addr + ": connection refused"; reason != want {
		t.Fatalf("reason %q, want %q", reason, want)
	}
}

func TestTruncateReason(t *testing.T) {
	long := strings.Repeat("é", 100) // 200 bytes
	got := truncateReason(long)
	if len(got) > 123 || !strings.HasPrefix(long, got) || len(got) < 120 {
		t.Fatalf("truncated to %d bytes: %q", len(got), got)
	}
	r := engineUnavailableReason("very-long-host-name-"+strings.Repeat("x", 120)+":1", &net.OpError{Op: "dial", Err: fmt.Errorf("boom")})
	if len(r) > 123 {
		t.Fatalf("reason of %d bytes", len(r))
	}
}

func TestEngineEOFDeliversThenCloses1000(t *testing.T) {
	for _, f := range []Framing{FramingRaw, FramingLines} {
		t.Run(string(f), func(t *testing.T) {
			e := startEngine(t, func(c net.Conn) {
				c.Write([]byte("last\nwords"))
				c.Close()
			})
			b := startBridge(t, e.addr, func(o *Options) { o.Routes[0].Framing = f })
			c := mustDial(t, b)
			code, reason, data := readClose(t, c)
			if code != websocket.CloseNormalClosure || reason != "engine closed the connection" {
				t.Fatalf("close %d %q, want 1000 engine closed the connection", code, reason)
			}
			if got := string(bytes.Join(data, []byte("|"))); f == FramingLines && got != "last|words" || f == FramingRaw && got != "last\nwords" {
				t.Fatalf("delivered %q before closing", got)
			}
		})
	}
}

func TestEngineFailureCloses1011(t *testing.T) {
	conns := make(chan net.Conn, 1)
	e := startEngine(t, accepted(conns))
	b := startBridge(t, e.addr, nil)
	c := mustDial(t, b)
	tcp := recvConn(t, conns)
	// A reset during the bridge's connect would be "engine unavailable".
	testutil.WaitFor(t, "the session to open", func() bool {
		s := b.Snapshot().Sessions
		return len(s) == 1 && s[0].State == StateOpen
	})
	tcp.(*net.TCPConn).SetLinger(0) // close with RST: a failure, not an EOF
	tcp.Close()
	code, reason, _ := readClose(t, c)
	if code != websocket.CloseInternalServerErr || !strings.Contains(reason, "engine connection failed") {
		t.Fatalf("close %d %q, want 1011", code, reason)
	}
}

func TestShutdownSends1001(t *testing.T) {
	e := startEngine(t, echo)
	b := startBridge(t, e.addr, nil)
	clients := []*websocket.Conn{mustDial(t, b), mustDial(t, b)}
	testutil.WaitFor(t, "sessions", func() bool { return len(b.Snapshot().Sessions) == 2 })
	stopped := make(chan error)
	go func() { stopped <- b.Stop() }()
	for _, c := range clients {
		code, reason, _ := readClose(t, c)
		if code != websocket.CloseGoingAway || reason != "bridge shutting down" {
			t.Fatalf("close %d %q, want 1001 bridge shutting down", code, reason)
		}
	}
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	if s := b.Snapshot(); s.Running || len(s.Sessions) != 0 {
		t.Fatalf("after Stop: running=%v sessions=%d", s.Running, len(s.Sessions))
	}
}

func TestShutdownForcesStuckSessions(t *testing.T) {
	e := startEngine(t, echo)
	b := startBridge(t, e.addr, func(o *Options) { o.ShutdownGrace = 300 * time.Millisecond })
	c := mustDial(t, b) // this client never reads, so it never answers the close
	_ = c
	testutil.WaitFor(t, "session", func() bool { return len(b.Snapshot().Sessions) == 1 })
	if err := b.Stop(); err != nil {
		t.Fatal(err)
	}
	if n := len(b.Snapshot().Sessions); n != 0 {
		t.Fatalf("%d sessions left after Stop", n)
	}
}

func TestClientCloseClosesEngine(t *testing.T) {
	conns := make(chan net.Conn, 1)
	e := startEngine(t, accepted(conns))
	b := startBridge(t, e.addr, nil)
	sub := b.Subscribe(64)
	defer sub.Close()
	c := mustDial(t, b)
	tcp := recvConn(t, conns)
	c.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(4000, "editor closed"))
	assertEngineClosed(t, tcp)
	ev := nextEvent(t, sub, SessionClosed)
	if ev.Session.CloseCode != 4000 || ev.Session.CloseReason != "editor closed" {
		t.Fatalf("closed event %+v", ev.Session)
	}
}

// A close frame without a status must be answered with an empty payload:
// 1005 is never sent on the wire. gorilla's client reports an empty close
// payload as 1005 and rejects an explicit 1005 as a protocol error.
func TestCloseWithoutStatusIsNotEchoedAs1005(t *testing.T) {
	e := startEngine(t, echo)
	b := startBridge(t, e.addr, nil)
	c := mustDial(t, b)
	var echoed []byte
	c.SetCloseHandler(func(code int, text string) error { echoed = []byte{byte(code >> 8), byte(code)}; return nil })
	c.WriteMessage(websocket.CloseMessage, []byte{})
	code, _, _ := readClose(t, c)
	if code != websocket.CloseNoStatusReceived || echoed == nil {
		t.Fatalf("got close %d, want an empty close payload", code)
	}
}

func TestDisconnectByOperator(t *testing.T) {
	e := startEngine(t, echo)
	b := startBridge(t, e.addr, nil)
	c := mustDial(t, b)
	testutil.WaitFor(t, "session", func() bool { return len(b.Snapshot().Sessions) == 1 })
	if err := b.Disconnect(b.Snapshot().Sessions[0].ID); err != nil {
		t.Fatal(err)
	}
	code, reason, _ := readClose(t, c)
	if code != websocket.CloseNormalClosure || reason != "closed by operator" {
		t.Fatalf("close %d %q", code, reason)
	}
	if err := b.Disconnect("s999"); err == nil {
		t.Fatal("disconnecting an unknown session succeeded")
	}
}

func TestPongTimeoutClosesBothSides(t *testing.T) {
	conns := make(chan net.Conn, 1)
	e := startEngine(t, accepted(conns))
	b := startBridge(t, e.addr, func(o *Options) {
		o.PingInterval = 20 * time.Millisecond
		o.PongTimeout = 150 * time.Millisecond
	})
	sub := b.Subscribe(64)
	defer sub.Close()
	// This client never reads, so it never answers a ping.
	mustDial(t, b)
	tcp := recvConn(t, conns)
	assertEngineClosed(t, tcp)
	ev := nextEvent(t, sub, SessionClosed)
	if !strings.Contains(ev.Session.CloseReason, "no pong") {
		t.Fatalf("closed with %d %q, want a pong timeout", ev.Session.CloseCode, ev.Session.CloseReason)
	}
}

func TestPingsKeepAnsweringClientAlive(t *testing.T) {
	e := startEngine(t, echo)
	b := startBridge(t, e.addr, func(o *Options) {
		o.PingInterval = 100 * time.Millisecond
		o.PongTimeout = time.Second
	})
	c := mustDial(t, b)
	var pings atomic.Int32
	c.SetPingHandler(func(data string) error {
		pings.Add(1)
		return c.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(time.Second))
	})
	readerDone := make(chan error, 1)
	go func() {
		_, _, err := c.ReadMessage()
		readerDone <- err
	}()
	// Several pong timeouts pass while the client answers pings.
	testutil.WaitFor(t, "pings", func() bool { return pings.Load() >= 35 })
	if n := len(b.Snapshot().Sessions); n != 1 {
		t.Fatalf("session dropped although the client answered pings (%d open)", n)
	}
	c.WriteMessage(websocket.TextMessage, []byte("still here"))
	if err := <-readerDone; err != nil {
		t.Fatalf("echo after pings: %v", err)
	}
}

// A browser that stops reading must stall the engine, not grow a buffer in
// the bridge; nothing is lost once it reads again.
func TestBackpressureToEngine(t *testing.T) {
	const total = 256 << 20
	var written atomic.Int64
	e := startEngine(t, func(c net.Conn) {
		defer c.Close()
		chunk := make([]byte, 64<<10)
		for off := int64(0); off < total; off += int64(len(chunk)) {
			for i := range chunk {
				chunk[i] = byte((off + int64(i)) % 251)
			}
			n, err := c.Write(chunk)
			written.Add(int64(n))
			if err != nil {
				return
			}
		}
	})
	b := startBridge(t, e.addr, func(o *Options) { o.WriteTimeout = time.Minute })
	c := mustDial(t, b)

	last := waitStalled(t, "the engine", &written)
	// Socket buffers on both hops hold some megabytes; the bridge holds at
	// most one relay buffer. 64 MiB would mean the bridge is buffering.
	if last >= 64<<20 {
		t.Fatalf("the engine wrote %d MiB to a browser that reads nothing: the bridge buffers", last>>20)
	}
	if last >= total {
		t.Fatal("the engine was never stalled")
	}

	// Now read everything and check order and content.
	var got int64
	for got < total {
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, p, err := c.ReadMessage()
		if err != nil {
			t.Fatalf("after %d bytes: %v", got, err)
		}
		for i, v := range p {
			if v != byte((got+int64(i))%251) {
				t.Fatalf("byte %d is %d, want %d", got+int64(i), v, (got+int64(i))%251)
			}
		}
		got += int64(len(p))
	}
}

// waitStalled waits until a sender's byte count stops growing, which means
// it is blocked, and returns the count.
func waitStalled(t *testing.T, who string, count *atomic.Int64) int64 {
	t.Helper()
	var last int64 = -1
	testutil.WaitFor(t, who+" to stall", func() bool {
		time.Sleep(200 * time.Millisecond)
		now := count.Load()
		stalled := now == last && now > 0
		last = now
		return stalled
	})
	return last
}

// A slow engine must stall the browser's sends the same way.
func TestBackpressureToBrowser(t *testing.T) {
	conns := make(chan net.Conn, 1)
	e := startEngine(t, accepted(conns))
	b := startBridge(t, e.addr, nil)
	c := mustDial(t, b)
	tcp := recvConn(t, conns) // the engine reads nothing yet
	var sent atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		msg := make([]byte, 64<<10)
		for sent.Load() < 256<<20 {
			c.SetWriteDeadline(time.Now().Add(20 * time.Second))
			if err := c.WriteMessage(websocket.BinaryMessage, msg); err != nil {
				return
			}
			sent.Add(int64(len(msg)))
		}
	}()
	last := waitStalled(t, "the browser", &sent)
	if last >= 64<<20 {
		t.Fatalf("the browser sent %d MiB to an engine that reads nothing", last>>20)
	}
	n, _ := io.CopyN(io.Discard, tcp, last)
	if n != last {
		t.Fatalf("engine got %d of %d bytes", n, last)
	}
	c.Close()
	<-done
}

func TestConcurrentSessions(t *testing.T) {
	e := startEngine(t, echo)
	b := startBridge(t, e.addr, func(o *Options) { o.MaxClients = 250 })
	const sessions, messages = 200, 20
	var wg, opened sync.WaitGroup
	release := make(chan struct{})
	errs := make(chan error, sessions)
	opened.Add(sessions)
	for i := range sessions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, _, err := dial(t, b, dialOpts{})
			opened.Done()
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			<-release // every session is open before any traffic flows
			for j := range messages {
				want := fmt.Sprintf("session %d message %d", i, j)
				if err := c.WriteMessage(websocket.TextMessage, []byte(want)); err != nil {
					errs <- err
					return
				}
				c.SetReadDeadline(time.Now().Add(30 * time.Second))
				_, p, err := c.ReadMessage()
				if err != nil || string(p) != want {
					errs <- fmt.Errorf("session %d: got %q, %v", i, p, err)
					return
				}
			}
		}()
	}
	opened.Wait()
	testutil.WaitFor(t, "200 sessions open at once", func() bool { return len(b.Snapshot().Sessions) == sessions || len(errs) > 0 })
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	testutil.WaitFor(t, "all sessions closed", func() bool { return len(b.Snapshot().Sessions) == 0 })
	if tot := b.Snapshot().Totals; tot.Sessions != sessions || tot.MessagesToEngine != sessions*messages {
		t.Fatalf("totals %+v", tot)
	}
}

func nextEvent(t *testing.T, sub *Subscription, kind EventKind) Event {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case ev := <-sub.C:
			if ev.Kind == kind {
				return ev
			}
		case <-timeout:
			t.Fatalf("no %v event", kind)
		}
	}
}

func TestEventsAndSnapshot(t *testing.T) {
	e := startEngine(t, echo)
	b := startBridge(t, e.addr, nil)
	sub := b.Subscribe(256)
	defer sub.Close()
	slow := b.Subscribe(1) // never read: must lose events, not block the relay
	defer slow.Close()

	c := mustDial(t, b)
	opened := nextEvent(t, sub, SessionOpened)
	if opened.Session.Origin != testOrigin || opened.Session.Route != "/ws" || opened.Session.Target != e.addr || opened.Session.ClientAddr == "" {
		t.Fatalf("opened event %+v", opened.Session)
	}
	for range 3 {
		c.WriteMessage(websocket.BinaryMessage, []byte("12345"))
		c.ReadMessage()
	}
	// The browser may read the last echo an instant before the counters move.
	var s SessionInfo
	testutil.WaitFor(t, "counters", func() bool {
		snap := b.Snapshot()
		if len(snap.Sessions) != 1 {
			t.Fatalf("snapshot has %d sessions", len(snap.Sessions))
		}
		s = snap.Sessions[0]
		return s.MessagesToBrowser == 3 && s.MessagesToEngine == 3
	})
	if s.ID != opened.Session.ID || s.BytesToEngine != 15 || s.MessagesToEngine != 3 || s.BytesToBrowser != 15 || s.State != StateOpen {
		t.Fatalf("snapshot session %+v", s)
	}
	c.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(1000, "bye"))
	closed := nextEvent(t, sub, SessionClosed)
	if closed.Session.CloseCode != 1000 || closed.Session.BytesToEngine != 15 || closed.Session.Duration <= 0 {
		t.Fatalf("closed event %+v", closed.Session)
	}
	if slow.Dropped() == 0 {
		t.Fatal("the slow subscriber lost no events: it must have blocked a publisher")
	}
	// Log records are published too.
	b.Logger().Info("hello from the app", "k", "v")
	ev := nextEvent(t, sub, LogRecord)
	for ev.Log.Message != "hello from the app" {
		ev = nextEvent(t, sub, LogRecord)
	}
	if len(ev.Log.Attrs) != 1 || ev.Log.Attrs[0] != (LogAttr{"k", "v"}) {
		t.Fatalf("log attrs %+v", ev.Log.Attrs)
	}
}

func get(t *testing.T, b *Bridge, path string, hdr http.Header) *http.Response {
	t.Helper()
	req, _ := http.NewRequest("GET", "https://localhost:"+strconv.Itoa(b.Port())+path, nil)
	for k, v := range hdr {
		req.Header[k] = v
	}
	if h := hdr.Get("Host"); h != "" {
		req.Host = h
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: newTestCA(t).pool}}}
	defer client.CloseIdleConnections()
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func TestHealth(t *testing.T) {
	e := startEngine(t, echo)
	b := startBridge(t, e.addr, func(o *Options) {
		o.Routes = append(o.Routes, Route{Path: "/down", Target: "127.0.0.1:1", Framing: FramingLines})
		o.CertificateStatus = func() any { return map[string]bool{"trusted": false} }
	})
	tests := []struct {
		origin, wantACAO string
	}{
		{testOrigin, testOrigin},
		{"https://evil.example", ""},
		{"", ""},
	}
	for _, tt := range tests {
		hdr := http.Header{}
		if tt.origin != "" {
			hdr.Set("Origin", tt.origin)
		}
		resp := get(t, b, "/health", hdr)
		if got := resp.Header.Get("Access-Control-Allow-Origin"); got != tt.wantACAO {
			t.Errorf("origin %q: ACAO %q, want %q", tt.origin, got, tt.wantACAO)
		}
		var h struct {
			Status      string
			Version     string
			Routes      []RouteHealth
			Sessions    int
			Certificate map[string]bool
		}
		if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
			t.Fatal(err)
		}
		want := []RouteHealth{{Path: "/ws", Target: e.addr, Framing: FramingRaw, Reachable: true}, {Path: "/down", Target: "127.0.0.1:1", Framing: FramingLines}}
		if h.Status != "ok" || h.Version != "test" || fmt.Sprint(h.Routes) != fmt.Sprint(want) || h.Certificate["trusted"] {
			t.Errorf("health %+v", h)
		}
	}
}

func TestPagesAndHeaders(t *testing.T) {
	b := startBridge(t, "127.0.0.1:1", nil)
	tests := []struct {
		path, wantType string
		status         int
	}{
		{"/", "text/html", 200},
		{"/diagnostics.js", "text/javascript", 200},
		{"/index.html", "", 404},
		{"/missing.js", "", 404},
		{"/example/index.html", "", 404},
		{"/example/", "", 404},
		{"/../../etc/passwd", "", 404},
	}
	for _, tt := range tests {
		resp := get(t, b, tt.path, nil)
		if resp.StatusCode != tt.status {
			t.Errorf("%s: status %d, want %d", tt.path, resp.StatusCode, tt.status)
			continue
		}
		if tt.status != 200 {
			continue
		}
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, tt.wantType) {
			t.Errorf("%s: content type %q", tt.path, ct)
		}
		csp := resp.Header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "frame-ancestors 'self'") || !strings.Contains(csp, "script-src 'self'") {
			t.Errorf("%s: CSP %q", tt.path, csp)
		}
		if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: no nosniff", tt.path)
		}
		if resp.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("%s: CORS header on a page", tt.path)
		}
	}
	if resp := get(t, b, "/", http.Header{"Host": {"attacker.example"}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("page for a foreign Host: status %d, want 403", resp.StatusCode)
	}
}

func TestFallbackPorts(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	busyPort := taken.Addr().(*net.TCPAddr).Port
	free, _ := net.Listen("tcp", "127.0.0.1:0")
	freePort := free.Addr().(*net.TCPAddr).Port
	free.Close()

	var logs bytes.Buffer
	var mu sync.Mutex
	b := startBridge(t, "127.0.0.1:1", func(o *Options) {
		o.Port = busyPort
		o.FallbackPorts = []int{busyPort, freePort}
		o.LogHandler = lockedHandler(&mu, &logs)
	})
	if b.Port() != freePort {
		t.Fatalf("listening on %d, want fallback %d", b.Port(), freePort)
	}
	mu.Lock()
	if !strings.Contains(logs.String(), "chosen="+strconv.Itoa(freePort)) {
		t.Errorf("the chosen port was not logged:\n%s", logs.String())
	}
	mu.Unlock()

	// With every port taken by other programs, Start says so.
	b2, _ := New(Options{Port: busyPort, Hosts: []string{"127.0.0.1"},
		Routes: []Route{{Path: "/ws", Target: "127.0.0.1:1"}}, GetCertificate: b.settings.Load().opts.GetCertificate})
	if err := b2.Start(); err == nil || !strings.Contains(err.Error(), "ports "+strconv.Itoa(busyPort)+" are all in use by other programs") {
		t.Fatalf("start with all ports taken: %v", err)
	}
}

func TestListensOnLoopbackOnly(t *testing.T) {
	b := startBridge(t, "127.0.0.1:1", func(o *Options) { o.Hosts = nil })
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.listeners) == 0 {
		t.Fatal("no listeners")
	}
	for _, ln := range b.listeners {
		ip := ln.Addr().(*net.TCPAddr).IP
		if !ip.IsLoopback() {
			t.Errorf("listening on %v", ip)
		}
	}
}

func TestCertificateSwap(t *testing.T) {
	e := startEngine(t, echo)
	first, second := newTestCA(t), makeTestCA(t, "renewed leaf")
	var current atomic.Pointer[tls.Certificate]
	current.Store(&first.leaf)
	b := startBridge(t, e.addr, func(o *Options) {
		o.GetCertificate = func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return current.Load(), nil }
	})
	old := mustDial(t, b)
	current.Store(&second.leaf)
	// The open session keeps working on the old certificate.
	old.WriteMessage(websocket.TextMessage, []byte("ping"))
	if _, p, err := old.ReadMessage(); err != nil || string(p) != "ping" {
		t.Fatalf("old session after swap: %q %v", p, err)
	}
	conn, err := tls.Dial("tcp", "127.0.0.1:"+strconv.Itoa(b.Port()), &tls.Config{RootCAs: second.pool, ServerName: "localhost"})
	if err != nil {
		t.Fatalf("new handshake did not get the new certificate: %v", err)
	}
	if cn := conn.ConnectionState().PeerCertificates[0].Subject.CommonName; cn != "renewed leaf" {
		t.Errorf("got %q", cn)
	}
	conn.Close()
}

func TestRestart(t *testing.T) {
	e := startEngine(t, echo)
	b := startBridge(t, e.addr, nil)
	mustDial(t, b)
	if err := b.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	c := mustDial(t, b)
	c.WriteMessage(websocket.TextMessage, []byte("again"))
	if _, p, err := c.ReadMessage(); err != nil || string(p) != "again" {
		t.Fatalf("%q %v", p, err)
	}
}

// A second bridge must not take a fallback port when an Orion Bridge holds
// the port; it says which one runs there.
func TestSecondInstanceRefused(t *testing.T) {
	first := startBridge(t, "127.0.0.1:1", nil)
	free, _ := net.Listen("tcp", "127.0.0.1:0")
	fallback := free.Addr().(*net.TCPAddr).Port
	free.Close()
	second, err := New(Options{Port: first.Port(), FallbackPorts: []int{fallback}, Hosts: []string{"127.0.0.1"},
		Routes: []Route{{Path: "/ws", Target: "127.0.0.1:1"}}, GetCertificate: first.settings.Load().opts.GetCertificate})
	if err != nil {
		t.Fatal(err)
	}
	err = second.Start()
	var running *AlreadyRunningError
	if !errors.As(err, &running) || running.PID != os.Getpid() || err.Error() != fmt.Sprintf("already running at wss://localhost:%d (pid %d)", first.Port(), os.Getpid()) {
		second.Stop()
		t.Fatalf("second start: %v", err)
	}
}

func TestControlHandlerMounted(t *testing.T) {
	b := startBridge(t, "127.0.0.1:1", func(o *Options) {
		o.Control = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "control "+r.URL.Path) })
	})
	resp := get(t, b, "/api/snapshot", nil)
	body, _ := io.ReadAll(resp.Body)
	if string(body) != "control /api/snapshot" {
		t.Fatalf("got %q", body)
	}
	if resp := get(t, b, "/api/snapshot", http.Header{"Host": {"evil.example"}}); resp.StatusCode != 403 {
		t.Fatalf("the control API skipped the Host check: %d", resp.StatusCode)
	}
}
