package bridge

import (
	"crypto/tls"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// plainClient speaks plain HTTP to the bridge's TLS port and never follows
// redirects, so the tests see the probe's own answers.
func plainClient() *http.Client {
	return &http.Client{
		Timeout:       5 * time.Second,
		Transport:     &http.Transport{DisableKeepAlives: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

func plainGet(t *testing.T, b *Bridge, method, path string, hdr http.Header) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, "http://127.0.0.1:"+strconv.Itoa(b.Port())+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	if h := hdr.Get("Host"); h != "" {
		req.Host = h
	}
	resp, err := plainClient().Do(req)
	if err != nil {
		t.Fatalf("%s %s over plain HTTP: %v", method, path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

func TestPlainHealthOnTLSPort(t *testing.T) {
	b := startBridge(t, "127.0.0.1:1", nil)
	resp, body := plainGet(t, b, http.MethodGet, "/health", http.Header{"Origin": {testOrigin}})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(body), &doc); err != nil {
		t.Fatalf("body %q: %v", body, err)
	}
	// Nothing but the identity and the hint: no version, pid, routes or
	// certificate over an unencrypted channel.
	want := "use https://127.0.0.1:" + strconv.Itoa(b.Port())
	if len(doc) != 2 || doc["app"] != AppName || doc["tls"] != want {
		t.Errorf("plain /health = %s; want exactly app=%q and tls=%q", body, AppName, want)
	}
	if got := resp.Header.Get("Access-Control-Allow-Origin"); got != testOrigin {
		t.Errorf("ACAO for an allowed origin = %q, want %q", got, testOrigin)
	}
	if got := resp.Header.Get("Content-Type"); got != "application/json" {
		t.Errorf("Content-Type %q", got)
	}

	resp, _ = plainGet(t, b, http.MethodGet, "/health", http.Header{"Origin": {"https://evil.example"}})
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("other origin: status %d, ACAO %q; want 200 without ACAO", resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"))
	}
	resp, body = plainGet(t, b, http.MethodHead, "/health", nil)
	if resp.StatusCode != http.StatusOK || body != "" {
		t.Errorf("HEAD /health: %d %q", resp.StatusCode, body)
	}
}

func TestPlainProbeRefusesOtherHostsAndRequests(t *testing.T) {
	b := startBridge(t, "127.0.0.1:1", nil)
	port := strconv.Itoa(b.Port())

	resp, body := plainGet(t, b, http.MethodGet, "/health", http.Header{"Host": {"rebind.example:" + port}})
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("foreign Host: %d %s; want 403", resp.StatusCode, body)
	}

	resp, _ = plainGet(t, b, http.MethodGet, "/some/page?token=secret", http.Header{"Host": {"localhost:" + port}})
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusPermanentRedirect || loc != "https://localhost:"+port+"/some/page" {
		t.Errorf("GET /some/page: %d Location %q; want 308 to https without the query", resp.StatusCode, loc)
	}

	resp, body = plainGet(t, b, http.MethodPost, "/health", nil)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "https://") {
		t.Errorf("POST: %d %q; want 400 naming https", resp.StatusCode, body)
	}

	resp, body = plainGet(t, b, http.MethodGet, "/ws", http.Header{
		"Connection": {"Upgrade"}, "Upgrade": {"websocket"}, "Sec-Websocket-Version": {"13"},
		"Sec-Websocket-Key": {"dGhlIHNhbXBsZSBub25jZQ=="}, "Origin": {testOrigin},
	})
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "wss://") {
		t.Errorf("ws:// upgrade: %d %q; want 400 naming wss", resp.StatusCode, body)
	}
}

// A client that connects and says nothing must not hold up anyone else,
// and must not keep Stop waiting (goleak checks that nothing is left).
func TestSilentConnectionDoesNotBlockOthers(t *testing.T) {
	e := startEngine(t, echo)
	b := startBridge(t, e.addr, nil)
	silent, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(b.Port()))
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()

	c := mustDial(t, b)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if err := c.WriteMessage(1, []byte("over TLS")); err != nil {
		t.Fatal(err)
	}
	if _, p, err := c.ReadMessage(); err != nil || string(p) != "over TLS" {
		t.Fatalf("echo %q, %v", p, err)
	}
	resp, _ := plainGet(t, b, http.MethodGet, "/health", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("plain /health beside a silent client: %d", resp.StatusCode)
	}
	c.Close()
	if err := b.Stop(); err != nil {
		t.Fatal(err)
	}
	silent.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := silent.Read(make([]byte, 1)); err == nil {
		t.Error("the silent connection is still open after Stop")
	}
}

func TestSniffTimeoutClosesSilentConnections(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tlsLn, plainLn := splitTLS(ln, 50*time.Millisecond, nil)
	defer plainLn.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatal("a silent connection got data")
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("the bridge kept a silent connection open past the sniff timeout")
	}
	tlsLn.Close() // closing either half closes both, twice is fine
	if _, err := plainLn.Accept(); err == nil {
		t.Fatal("Accept after Close succeeded")
	}
}

// The first byte decides; it is given back to the server that gets the
// connection.
func TestSplitListenerSortsByFirstByte(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tlsLn, plainLn := splitTLS(ln, time.Second, nil)
	defer tlsLn.Close()
	for _, tc := range []struct {
		first byte
		want  net.Listener
		other net.Listener
	}{{0x16, tlsLn, plainLn}, {'G', plainLn, tlsLn}} {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		msg := []byte{tc.first, 'x', 'y'}
		if _, err := c.Write(msg); err != nil {
			t.Fatal(err)
		}
		got, err := tc.want.Accept()
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 3)
		got.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.ReadFull(got, buf); err != nil || string(buf) != string(msg) {
			t.Errorf("first byte %#x: read %q, %v; want %q", tc.first, buf, err, msg)
		}
		got.Close()
		c.Close()
	}
}

func TestClientJSCORS(t *testing.T) {
	b := startBridge(t, "127.0.0.1:1", nil)
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: newTestCA(t).pool, ServerName: "localhost"}}}
	defer client.CloseIdleConnections()
	for _, tc := range []struct{ origin, want string }{
		{testOrigin, testOrigin},
		{"https://evil.example", ""},
		{"", ""},
	} {
		req, _ := http.NewRequest(http.MethodGet, "https://127.0.0.1:"+strconv.Itoa(b.Port())+"/client.js", nil)
		if tc.origin != "" {
			req.Header.Set("Origin", tc.origin)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "export function connect") {
			t.Fatalf("GET /client.js: %d, %d bytes", resp.StatusCode, len(body))
		}
		if got := resp.Header.Get("Access-Control-Allow-Origin"); got != tc.want {
			t.Errorf("Origin %q: ACAO %q, want %q", tc.origin, got, tc.want)
		}
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/javascript") {
			t.Errorf("Content-Type %q: a module script needs a JavaScript MIME type", ct)
		}
	}
}
