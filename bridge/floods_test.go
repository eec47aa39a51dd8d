package bridge

// Unauthenticated floods (issue 12, points 6-8): /health dials, refusal
// log lines, and connections that never become a session.

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"orionbridge/internal/testutil"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// httpsClient trusts the test CA and keeps connections alive.
func httpsClient(t testing.TB) *http.Client {
	t.Helper()
	c := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		TLSClientConfig:     &tls.Config{RootCAs: newTestCA(t).pool, ServerName: "localhost"},
		MaxIdleConnsPerHost: 64,
	}}
	t.Cleanup(c.CloseIdleConnections)
	return c
}

func getHealth(t testing.TB, c *http.Client, b *Bridge) Health {
	t.Helper()
	resp, err := c.Get("https://127.0.0.1:" + strconv.Itoa(b.Port()) + "/health")
	if err != nil {
		t.Errorf("GET /health: %v", err)
		return Health{Routes: make([]RouteHealth, 1)}
	}
	defer resp.Body.Close()
	var h Health
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil || resp.StatusCode != http.StatusOK || len(h.Routes) != 1 {
		t.Errorf("GET /health: status %d, %+v, %v", resp.StatusCode, h, err)
		h.Routes = make([]RouteHealth, 1)
	}
	return h
}

// fakeClock is a clock that moves only when the test says.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// Point 6: /health shares one engine dial per cache window, however many
// ask at once or in a row, and dials again once the window is over.
func TestHealthDialsEngineOncePerWindow(t *testing.T) {
	var accepts atomic.Int64
	e := startEngine(t, func(c net.Conn) { accepts.Add(1); c.Close() })
	clock := &fakeClock{now: time.Now()}
	b := startBridgeWith(t, e.addr, nil, func(b *Bridge) { b.reach.now = clock.Now })
	client := httpsClient(t)

	const concurrent, sequential = 32, 50
	var wg sync.WaitGroup
	for range concurrent {
		wg.Go(func() {
			if h := getHealth(t, client, b); !h.Routes[0].Reachable {
				t.Errorf("engine reported unreachable: %+v", h.Routes[0])
			}
		})
	}
	wg.Wait()
	for range sequential {
		if h := getHealth(t, client, b); !h.Routes[0].Reachable {
			t.Fatalf("engine reported unreachable: %+v", h.Routes[0])
		}
	}
	testutil.WaitFor(t, "the engine to see the probe", func() bool { return accepts.Load() >= 1 })
	if n := accepts.Load(); n != 1 {
		t.Fatalf("%d /health requests within one cache window dialed the engine %d times, want 1", concurrent+sequential, n)
	}

	clock.advance(reachTTL)
	for range 10 {
		getHealth(t, client, b)
	}
	testutil.WaitFor(t, "a new dial after the window", func() bool { return accepts.Load() >= 2 })
	if n := accepts.Load(); n != 2 {
		t.Fatalf("second window: %d dials in all, want 2", n)
	}

	e.close()
	testutil.WaitFor(t, "/health to report the stopped engine unreachable", func() bool {
		clock.advance(reachTTL)
		return !getHealth(t, client, b).Routes[0].Reachable
	})
}

// A route whose target changes is answered for the new target at once, not
// from the old target's cached answer.
func TestHealthCacheFollowsTargetChange(t *testing.T) {
	e := startEngine(t, echo)
	clock := &fakeClock{now: time.Now()}
	var opts Options
	b := startBridgeWith(t, e.addr, func(o *Options) { opts = *o }, func(b *Bridge) { b.reach.now = clock.Now })
	client := httpsClient(t)
	if !getHealth(t, client, b).Routes[0].Reachable {
		t.Fatal("engine unreachable")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close() // a port nothing listens on
	opts.Routes = []Route{{Path: "/ws", Target: dead}}
	if err := b.Reconfigure(opts); err != nil {
		t.Fatal(err)
	}
	if h := getHealth(t, client, b); h.Routes[0].Target != dead || h.Routes[0].Reachable {
		t.Fatalf("after the target changed within the cache window: %+v; want %s unreachable", h.Routes[0], dead)
	}
}

// refusalRecords reads a text log: the full refusal lines with message msg,
// and the repeats of its summary lines.
func refusalRecords(log, msg string) (full, summaries, repeats int, longest int) {
	repeatsRe := regexp.MustCompile(` repeats=(\d+)`)
	for line := range strings.Lines(log) {
		longest = max(longest, len(line))
		switch {
		case strings.Contains(line, "msg=\""+msg+": ") && strings.Contains(line, " more "):
			summaries++
			m := repeatsRe.FindStringSubmatch(line)
			if m == nil {
				continue
			}
			n, _ := strconv.Atoi(m[1])
			repeats += n
		case strings.Contains(line, "msg=\""+msg+"\""):
			full++
		}
	}
	return
}

// upgradeRequest is a WebSocket upgrade as a browser on origin sends it.
func upgradeRequest(t testing.TB, b *Bridge, host, origin string) *http.Request {
	req, err := http.NewRequest(http.MethodGet, "https://127.0.0.1:"+strconv.Itoa(b.Port())+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Sec-WebSocket-Version", "13")
	req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	req.Header.Set("Origin", origin)
	return req
}

// Point 7: a flood of refused upgrades writes a bounded number of log
// records, and the summaries carry the exact count, also as typed events.
func TestRefusalFloodIsSummarised(t *testing.T) {
	const flood = 3000
	for _, tc := range []struct {
		name string
		// request i's Host ("" for the right one) and Origin
		vary       func(i, port int) (host, origin string)
		maxRecords int // full lines and summaries together
		summary    string
	}{
		{"one foreign origin", func(int, int) (string, string) { return "", "https://evil.example" }, 2,
			`request refused: 2,999 more like this in the last 1h0m0s`},
		{"every request a new origin", func(i, _ int) (string, string) {
			return "", "https://evil" + strconv.Itoa(i) + ".example"
		}, refusalKinds + 2, "request refused: 2,935 more with other reasons or origins in the last 1h0m0s"},
		{"every request a new, long Host", func(i, port int) (string, string) {
			return "h" + strconv.Itoa(i) + strings.Repeat("h", 4000) + ".example:" + strconv.Itoa(port), testOrigin
		}, refusalKinds + 2, "request refused: 2,935 more with other reasons or origins in the last 1h0m0s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			var buf bytes.Buffer
			b := startBridgeWith(t, "127.0.0.1:1", func(o *Options) { o.LogHandler = lockedHandler(&mu, &buf) },
				func(b *Bridge) { b.refusals.window = time.Hour }) // the whole flood in one window
			sub := b.Subscribe(4 * refusalKinds)
			defer sub.Close()
			client := httpsClient(t)
			port := b.Port()
			var next atomic.Int64
			var wg sync.WaitGroup
			for range 8 {
				wg.Go(func() {
					for i := int(next.Add(1)) - 1; i < flood; i = int(next.Add(1)) - 1 {
						host, origin := tc.vary(i, port)
						resp, err := client.Do(upgradeRequest(t, b, host, origin))
						if err != nil {
							t.Errorf("request %d: %v", i, err)
							return
						}
						_, _ = io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						if resp.StatusCode != http.StatusForbidden {
							t.Errorf("request %d: status %d, want 403", i, resp.StatusCode)
							return
						}
					}
				})
			}
			wg.Wait()
			if err := b.Stop(); err != nil { // flushes the pending summaries
				t.Fatal(err)
			}
			mu.Lock()
			log := buf.String()
			mu.Unlock()
			full, summaries, repeats, longest := refusalRecords(log, "request refused")
			if full+summaries > tc.maxRecords {
				t.Errorf("%d refusals wrote %d full lines and %d summaries, want at most %d records", flood, full, summaries, tc.maxRecords)
			}
			if full+repeats != flood {
				t.Errorf("%d full lines + %d counted repeats = %d, want exactly %d refusals accounted for", full, repeats, full+repeats, flood)
			}
			if !strings.Contains(log, tc.summary) {
				t.Errorf("no summary line %q in the log:\n%.3000s", tc.summary, log)
			}
			if longest > 4<<10 {
				t.Errorf("a log line of %d bytes: what clients send must be clipped", longest)
			}
			var typed bool
			for done := false; !done; {
				select {
				case ev := <-sub.C:
					if ev.Kind == LogRecord && ev.Log.Message == tc.summary {
						for _, a := range ev.Log.Attrs {
							typed = typed || a.Key == "repeats" && a.Value == strconv.Itoa(flood-full)
						}
					}
				default:
					done = true
				}
			}
			if !typed {
				t.Errorf("no log event %q with repeats=%d", tc.summary, flood-full)
			}
			b.refusals.mu.Lock()
			kinds := len(b.refusals.kinds)
			b.refusals.mu.Unlock()
			if kinds != 0 {
				t.Errorf("%d refusal kinds left after Stop's flush", kinds)
			}
		})
	}
}

// The summary comes when the window ends, without waiting for Stop, and a
// refusal after the window is logged in full again.
func TestRefusalSummaryAtWindowEnd(t *testing.T) {
	var mu sync.Mutex
	var buf bytes.Buffer
	b := startBridgeWith(t, "127.0.0.1:1", func(o *Options) { o.LogHandler = lockedHandler(&mu, &buf) },
		func(b *Bridge) { b.refusals.window = 50 * time.Millisecond })
	client := httpsClient(t)
	refuse := func(n int) {
		for range n {
			resp, err := client.Do(upgradeRequest(t, b, "", "https://evil.example"))
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}
	counts := func() (full, repeats int) {
		mu.Lock()
		defer mu.Unlock()
		full, _, repeats, _ = refusalRecords(buf.String(), "request refused")
		return full, repeats
	}
	refuse(200)
	testutil.WaitFor(t, "the summary at the end of the window", func() bool {
		b.refusals.mu.Lock()
		open := len(b.refusals.kinds)
		b.refusals.mu.Unlock()
		f, r := counts()
		return f+r == 200 && open == 0
	})
	full, _ := counts()
	refuse(1)
	testutil.WaitFor(t, "a refusal after the window to be logged in full", func() bool { f, _ := counts(); return f == full+1 })
}

// TLS handshake failures (here: a client that does not trust the
// certificate) are rate-limited too, although each comes from another
// client port.
func TestTLSHandshakeFailuresAreSummarised(t *testing.T) {
	var mu sync.Mutex
	var buf bytes.Buffer
	b := startBridgeWith(t, "127.0.0.1:1", func(o *Options) { o.LogHandler = lockedHandler(&mu, &buf) },
		func(b *Bridge) { b.refusals.window = time.Hour })
	const n = 200
	for i := range n {
		c, err := tls.Dial("tcp", "127.0.0.1:"+strconv.Itoa(b.Port()), &tls.Config{ServerName: "localhost"})
		if err == nil {
			c.Close()
			t.Fatalf("handshake %d succeeded without trusting the CA", i)
		}
	}
	// The client is done before the server has read its alert; Stop would
	// cut a handshake that is still pending.
	testutil.WaitFor(t, "the server to finish every handshake", func() bool { n, _ := b.pending.counts(); return n == 0 })
	if err := b.Stop(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	log := buf.String()
	mu.Unlock()
	const msg = "TLS handshake refused by the client: the browser does not trust the bridge certificate; run `orionbridge certs install`"
	full, summaries, repeats, _ := refusalRecords(log, msg)
	if full != 1 || summaries != 1 || repeats != n-1 {
		t.Errorf("%d untrusted handshakes: %d full lines, %d summaries with %d repeats; want 1, 1, %d\n%.3000s", n, full, summaries, repeats, n-1, log)
	}
}

// The limiter keys on bounded strings and a bounded number of kinds,
// whatever the reasons and origins.
func TestRefusalLogBounds(t *testing.T) {
	var mu sync.Mutex
	var buf bytes.Buffer
	l := newRefusalLog(slog.New(lockedHandler(&mu, &buf)))
	l.window = time.Hour
	for i := range 1000 {
		l.refused(slog.LevelWarn, "test refused", strings.Repeat("r", 10000)+strconv.Itoa(i), strings.Repeat("o", 10000)+strconv.Itoa(i))
		l.mu.Lock()
		kinds := len(l.kinds)
		for k := range l.kinds {
			if len(k.reason) > refusalKeyBytes || len(k.origin) > refusalKeyBytes {
				t.Fatalf("key of %d+%d bytes", len(k.reason), len(k.origin))
			}
		}
		l.mu.Unlock()
		if kinds > refusalKinds+1 {
			t.Fatalf("%d kinds tracked, want at most %d", kinds, refusalKinds+1)
		}
	}
	l.flush()
	mu.Lock()
	full, _, repeats, longest := refusalRecords(buf.String(), "test refused")
	mu.Unlock()
	if full+repeats != 1000 || longest > 4<<10 {
		t.Errorf("%d full + %d repeats, longest line %d bytes", full, repeats, longest)
	}
	for _, tc := range []struct {
		n    int
		want string
	}{{0, "0"}, {999, "999"}, {1000, "1,000"}, {2998, "2,998"}, {1234567, "1,234,567"}, {-1234, "-1,234"}} {
		if got := thousands(tc.n); got != tc.want {
			t.Errorf("thousands(%d) = %q, want %q", tc.n, got, tc.want)
		}
	}
}

// Point 8: a flood of silent and slow connections is capped; a real /health
// and a real session still get in, and an open session is never touched.
func TestPendingConnectionFloodLeavesRoomForRealClients(t *testing.T) {
	const limit = 64
	e := startEngine(t, echo)
	b := startBridgeWith(t, e.addr, func(o *Options) { o.MaxPendingConns = limit }, func(b *Bridge) {
		// Silent connections must be closed by the cap, never by the sniff
		// timeout, even on a slow machine.
		b.sniffTimeout = time.Hour
	})
	addr := "127.0.0.1:" + strconv.Itoa(b.Port())
	session := mustDial(t, b)
	echoOnce := func(c *websocket.Conn, msg string) {
		t.Helper()
		if err := c.WriteMessage(1, []byte(msg)); err != nil {
			t.Fatalf("write %q: %v", msg, err)
		}
		if _, p, err := c.ReadMessage(); err != nil || string(p) != msg {
			t.Fatalf("echo of %q: %q, %v", msg, p, err)
		}
	}
	echoOnce(session, "before the flood")

	const silent, slow = limit + 300, 20
	var closed atomic.Int64
	var attackers []net.Conn
	var wg sync.WaitGroup
	t.Cleanup(func() {
		for _, c := range attackers {
			c.Close()
		}
		wg.Wait()
	})
	open := func(first []byte) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("attacker connection %d: %v", len(attackers), err)
		}
		attackers = append(attackers, c)
		if len(first) > 0 {
			if _, err := c.Write(first); err != nil {
				t.Fatal(err)
			}
		}
		wg.Go(func() {
			// Nothing is ever sent back to these: a read ends only when
			// the bridge closes the connection (or the test does).
			_, _ = c.Read(make([]byte, 1))
			closed.Add(1)
		})
	}
	for range silent {
		open(nil)
	}
	for i := range slow {
		if i%2 == 0 {
			open([]byte{0x16, 0x03, 0x01, 0x02, 0x00, 0x01}) // a ClientHello record header and 1 byte of 512
		} else {
			open([]byte("GET /health HTTP/1.1\r\nHost: localhost\r\nX-Slow: ")) // a header never finished
		}
	}
	total := silent + slow
	testutil.WaitFor(t, fmt.Sprintf("the bridge to close all but %d of %d pending connections", limit, total), func() bool {
		return closed.Load() >= int64(total-limit)
	})

	client := httpsClient(t)
	if h := getHealth(t, client, b); !h.Routes[0].Reachable || h.Sessions != 1 {
		t.Errorf("/health during the flood: %+v", h)
	}
	fresh := mustDial(t, b)
	echoOnce(fresh, "new session during the flood")
	echoOnce(session, "old session during the flood")
	pending, evicted := b.pending.counts()
	if pending > limit || evicted < uint64(total-limit) {
		t.Errorf("the bridge holds %d pending connections (cap %d) after closing %d", pending, limit, evicted)
	}
}

// LogRefusal is what the control API (app/control.go) logs its refusals
// with: rate-limited per origin like the bridge's own.
func TestLogRefusalFromControlAPI(t *testing.T) {
	var mu sync.Mutex
	var buf bytes.Buffer
	var self *Bridge // set before Start, read by the handler
	const msg = "control API refused a request from a web page"
	b := startBridgeWith(t, "127.0.0.1:1", func(o *Options) {
		o.LogHandler = lockedHandler(&mu, &buf)
		o.Control = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			self.LogRefusal(msg, "", r.Header.Get("Origin"), "path", r.URL.Path)
			http.Error(w, "403 Forbidden: the control API is not for web pages", http.StatusForbidden)
		})
	}, func(nb *Bridge) { self, nb.refusals.window = nb, time.Hour })
	client := httpsClient(t)
	const n = 500
	for range n {
		req, _ := http.NewRequest(http.MethodGet, "https://127.0.0.1:"+strconv.Itoa(b.Port())+"/api/info", nil)
		req.Header.Set("Origin", "https://evil.example")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	if err := b.Stop(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	log := buf.String()
	mu.Unlock()
	full, summaries, repeats, _ := refusalRecords(log, msg)
	if full != 1 || summaries != 1 || repeats != n-1 || !strings.Contains(log, "origin=https://evil.example") {
		t.Errorf("%d control API refusals: %d full lines, %d summaries with %d repeats; want 1, 1, %d\n%.2000s", n, full, summaries, repeats, n-1, log)
	}
}
