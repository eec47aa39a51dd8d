package bridge

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/goleak"
)

// Every test must leave no goroutine behind: sessions, pingers, listeners.
func TestMain(m *testing.M) {
	if mode := os.Getenv(benchHelperEnv); mode != "" {
		runBenchHelper(mode) // a benchmark's helper process, not a test run
		os.Exit(0)
	}
	goleak.VerifyTestMain(m)
}

// testCA is a throwaway CA and leaf for 127.0.0.1/localhost, so the bridge's
// tests need no certs package and no trust store.
type testCA struct {
	pool *x509.CertPool
	leaf tls.Certificate
}

var (
	caOnce   sync.Once
	sharedCA testCA
)

func newTestCA(t testing.TB) testCA {
	t.Helper()
	caOnce.Do(func() { sharedCA = makeTestCA(t, "test leaf") })
	return sharedCA
}

func makeTestCA(t testing.TB, cn string) testCA {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return testCA{pool: pool, leaf: tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}}
}

const testOrigin = "https://editor.example.com"

// startBridge starts a bridge on a free loopback port with one route to
// target and stops it when the test ends.
func startBridge(t testing.TB, target string, mod func(*Options)) *Bridge {
	t.Helper()
	return startBridgeWith(t, target, mod, nil)
}

// startBridgeWith is startBridge with a hook that runs after New and before
// Start, to change internals (clock, windows, timeouts) before any
// goroutine reads them.
func startBridgeWith(t testing.TB, target string, mod func(*Options), before func(*Bridge)) *Bridge {
	t.Helper()
	ca := newTestCA(t)
	opts := Options{
		Hosts:          []string{"127.0.0.1"},
		AllowedOrigins: []string{testOrigin},
		Routes:         []Route{{Path: "/ws", Target: target}},
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return &ca.leaf, nil },
		Version:        "test",
		LogHandler:     slog.NewTextHandler(io.Discard, nil),
	}
	if mod != nil {
		mod(&opts)
	}
	b, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if before != nil {
		before(b)
	}
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Stop() })
	return b
}

// dialOpts describe the browser side of a connection attempt.
type dialOpts struct {
	path      string
	origin    string
	host      string
	query     string
	protocols []string
}

// dial connects like a browser on testOrigin would, unless d says otherwise.
func dial(t testing.TB, b *Bridge, d dialOpts) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	if d.path == "" {
		d.path = "/ws"
	}
	if d.origin == "" {
		d.origin = testOrigin
	}
	hdr := http.Header{}
	if d.origin != "-" {
		hdr.Set("Origin", d.origin)
	}
	if d.host != "" {
		hdr.Set("Host", d.host)
	}
	dialer := websocket.Dialer{
		TLSClientConfig:  &tls.Config{RootCAs: newTestCA(t).pool, ServerName: "localhost"},
		HandshakeTimeout: 30 * time.Second,
		Subprotocols:     d.protocols,
	}
	url := "wss://127.0.0.1:" + strconv.Itoa(b.Port()) + d.path
	if d.query != "" {
		url += "?" + d.query
	}
	c, resp, err := dialer.Dial(url, hdr)
	if c != nil {
		t.Cleanup(func() { c.Close() })
	}
	return c, resp, err
}

func mustDial(t testing.TB, b *Bridge) *websocket.Conn {
	t.Helper()
	c, _, err := dial(t, b, dialOpts{})
	if err != nil {
		t.Fatalf("dial bridge: %v", err)
	}
	return c
}

// engine is a fake report engine on a free loopback port. Each accepted
// connection is handed to handle in its own goroutine.
type engine struct {
	ln    net.Listener
	addr  string
	wg    sync.WaitGroup
	mu    sync.Mutex
	conns []net.Conn
}

func startEngine(t testing.TB, handle func(net.Conn)) *engine {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e := &engine{ln: ln, addr: ln.Addr().String()}
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			e.mu.Lock()
			e.conns = append(e.conns, c)
			e.mu.Unlock()
			e.wg.Add(1)
			go func() { defer e.wg.Done(); handle(c) }()
		}
	}()
	t.Cleanup(e.close)
	return e
}

func (e *engine) close() {
	e.ln.Close()
	e.mu.Lock()
	for _, c := range e.conns {
		c.Close()
	}
	e.mu.Unlock()
	e.wg.Wait()
}

func echo(c net.Conn) {
	defer c.Close()
	_, _ = io.Copy(c, c)
}

// accepted hands each engine connection to the test through a channel.
func accepted(ch chan net.Conn) func(net.Conn) {
	return func(c net.Conn) { ch <- c }
}

func recvConn(t testing.TB, ch chan net.Conn) net.Conn {
	t.Helper()
	select {
	case c := <-ch:
		t.Cleanup(func() { c.Close() })
		return c
	case <-time.After(5 * time.Second):
		t.Fatal("the engine got no connection")
		return nil
	}
}

// readClose reads until the bridge closes the socket and returns the close
// code and reason. Data messages before the close are returned too.
func readClose(t testing.TB, c *websocket.Conn) (code int, reason string, data [][]byte) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
	for {
		_, p, err := c.ReadMessage()
		if err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				return ce.Code, ce.Text, data
			}
			t.Fatalf("expected a close frame, got %v", err)
		}
		data = append(data, p)
	}
}

// lockedHandler logs text records into buf; tests read buf under mu.
func lockedHandler(mu *sync.Mutex, buf *bytes.Buffer) slog.Handler {
	return slog.NewTextHandler(lockedWriter{mu, buf}, &slog.HandlerOptions{Level: slog.LevelDebug})
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
