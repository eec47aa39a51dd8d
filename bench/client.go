//go:build linux

package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// Engine endpoints: every target relays to the same engine process, which
// listens once per behaviour.
const (
	kindEcho   = "echo"   // echoes every byte
	kindSink   = "sink"   // discards, and answers one byte per ackEvery received
	kindSource = "source" // sends 64 KiB writes until the connection closes
)

var kinds = []string{kindEcho, kindSink, kindSource}

// benchOrigin is the Origin every WebSocket client sends; the bridge's
// config allows it.
const benchOrigin = "https://bench.example.com"

// client is one session as the load tool sees it: a byte stream in, and
// messages (WebSocket) or writes (TCP, TLS) out.
type client struct {
	r     io.Reader
	send  func([]byte) error
	close func() error
	ws    *websocket.Conn // nil unless WebSocket
}

// pongsLost counts the pongs the load tool's clients failed to send.
var pongsLost atomic.Int64

// pongWriteLimit bounds the write of one pong. gorilla's default ping
// handler allows 1 s and drops the pong silently when that passes, which
// happens when 10,000 idle clients answer a burst of pings on 2 busy cores;
// the bridge then rightly ends the session for want of a pong. A browser
// does not drop pongs, so the clients allow as long as the bridge waits.
const pongWriteLimit = 30 * time.Second

// answerPings reads and drops everything from now on, so the client answers
// the server's pings, as a browser does; the client must not be read
// otherwise afterwards.
func (c *client) answerPings() {
	if c.ws == nil {
		return
	}
	c.ws.SetPingHandler(func(data string) error {
		if err := c.ws.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(pongWriteLimit)); err != nil {
			pongsLost.Add(1)
		}
		return nil
	})
	go func() {
		for {
			if _, _, err := c.ws.NextReader(); err != nil {
				return
			}
		}
	}()
}

// target is one of the servers measured side by side.
type target struct {
	key   string // tcp, tls, orion, websockify
	label string
	// addrs maps an engine kind to the host:port to dial.
	addrs map[string]string
	ws    bool // speaks WebSocket over TLS
	tls   bool
	// path maps an engine kind to the URL path (Orion Bridge's routes).
	path map[string]string
	// conf is shared by the target's clients, so TLS sessions resume the
	// way a browser's do.
	conf *tls.Config
	// cpu is the CPU time the server's processes have used so far, for the
	// engine endpoint of the given kind; nil when there is no server.
	cpu func(kind string) time.Duration
}

func newTLSConfig(pool *x509.CertPool) *tls.Config {
	return &tls.Config{
		RootCAs:            pool,
		ServerName:         "localhost",
		ClientSessionCache: tls.NewLRUClientSessionCache(64),
		MinVersion:         tls.VersionTLS12,
	}
}

// wsWritePool gives WebSocket clients a write buffer only while they write,
// so 10,000 idle clients cost the load tool little, and 64 KiB messages
// still leave as one frame, as a browser sends them.
var wsWritePool = &sync.Pool{}

// dial opens one session to the target's engine endpoint of the given
// kind, including every handshake.
func (t *target) dial(ctx context.Context, kind string) (*client, error) {
	addr := t.addrs[kind]
	var d net.Dialer
	switch {
	case t.ws:
		wd := websocket.Dialer{
			NetDialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				return d.DialContext(ctx, "tcp", addr)
			},
			TLSClientConfig:  t.conf,
			HandshakeTimeout: 20 * time.Second,
			ReadBufferSize:   4096,
			WriteBufferSize:  64<<10 + 64,
			WriteBufferPool:  wsWritePool,
		}
		_, port, _ := net.SplitHostPort(addr)
		url := "wss://localhost:" + port + t.path[kind]
		c, resp, err := wd.DialContext(ctx, url, http.Header{"Origin": {benchOrigin}})
		if err != nil {
			if resp != nil {
				return nil, fmt.Errorf("%s: %w (HTTP %s)", url, err, resp.Status)
			}
			return nil, fmt.Errorf("%s: %w", url, err)
		}
		return &client{
			ws:   c,
			r:    &wsReader{c: c},
			send: func(p []byte) error { return c.WriteMessage(websocket.BinaryMessage, p) },
			close: func() error {
				_ = c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
				return c.Close()
			},
		}, nil
	case t.tls:
		raw, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return nil, err
		}
		c := tls.Client(raw, t.conf)
		if err := c.HandshakeContext(ctx); err != nil {
			raw.Close()
			return nil, err
		}
		return &client{r: c, send: writeAll(c), close: c.Close}, nil
	default:
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return nil, err
		}
		return &client{r: c, send: writeAll(c), close: c.Close}, nil
	}
}

func writeAll(w io.Writer) func([]byte) error {
	return func(p []byte) error { _, err := w.Write(p); return err }
}

// wsReader turns a WebSocket's messages back into a byte stream: in raw
// framing the bridge (and websockify) may split or join the engine's bytes
// into messages as its reads return them.
type wsReader struct {
	c *websocket.Conn
	r io.Reader
}

func (w *wsReader) Read(p []byte) (int, error) {
	for {
		if w.r == nil {
			_, r, err := w.c.NextReader()
			if err != nil {
				return 0, err
			}
			w.r = r
		}
		n, err := w.r.Read(p)
		if errors.Is(err, io.EOF) {
			w.r = nil
			if n > 0 {
				return n, nil
			}
			continue
		}
		return n, err
	}
}

// loadPool reads a PEM CA file into a pool.
func loadPool(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s: no certificate", path)
	}
	return pool, nil
}
