package bridge

// The plain-HTTP probe on the TLS port.
//
// A page cannot tell "Orion Bridge is not running" from "this browser does
// not trust its certificate": fetch("https://localhost:21443/health") and
// new WebSocket("wss://localhost:21443/ws") fail the same way in both cases,
// with an opaque TypeError or close code 1006. So the bridge also answers
// plain HTTP on the same port: a connection whose first byte is not a TLS
// handshake record gets a tiny HTTP server that knows GET /health only. When
// the https probe fails and http://localhost:PORT/health answers, the bridge
// runs and the certificate is the problem. Browsers treat http://localhost as
// potentially trustworthy, so an https page may fetch it without a
// mixed-content error (Local Network Access still applies).
//
// The plain answer says nothing an untrusted channel should carry: no
// version, pid, routes or certificate details, just that this is Orion
// Bridge and that it wants TLS. The Host check and the CORS rule (the origin
// named exactly, allowed origins only) are the same as on https.
//
// Another user's process gets neither: every request of a connection the
// per-user check refused (peer.go, run here at accept) is answered by
// peer_answer.go, the plain /health included, so that a browser that does
// not trust this bridge's certificate still learns where its own user's
// bridge is.

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// tlsHandshakeRecord is the first byte of every TLS ClientHello (record
// type 22). SSLv2-style hellos (0x80) are not accepted anyway: MinVersion is
// TLS 1.2.
const tlsHandshakeRecord = 0x16

// sniffTimeout bounds how long a new connection may stay silent before its
// first byte tells TLS from plain HTTP; like ReadHeaderTimeout, it keeps
// idle connections from piling up.
const sniffTimeout = 10 * time.Second

// PlainHealth is the whole plain-HTTP /health document.
type PlainHealth struct {
	App string `json:"app"` // always AppName
	TLS string `json:"tls"` // e.g. "use https://localhost:21443"
}

// splitListener sorts the connections of one TCP listener into two
// listeners by their first byte: TLS handshakes and everything else. Accept
// never waits for a client to speak: each new connection is sniffed on its
// own goroutine, so a silent client cannot stall the others.
type splitListener struct {
	ln      net.Listener
	timeout time.Duration
	pending *pendingConns // counts each connection from its accept; nil: no cap
	// peer, when set, names the user at the other end of each connection
	// before its first byte is read (peer.go); nil checks nothing.
	peer   func(net.Conn) *peerInfo
	tlsC   chan net.Conn
	plainC chan net.Conn
	done   chan struct{}

	closeOnce sync.Once
	mu        sync.Mutex
	sniffing  map[net.Conn]struct{} // closed by Close, so no sniffer outlives it
	closed    bool
	acceptErr error // why the accept loop ended, when it was not Close
}

// splitTLS returns the TLS half and the plain half of ln. Closing either
// closes ln and both halves. Every accepted connection is added to pending
// (pending.go), which closes the oldest when there are too many; nil
// counts nothing.
func splitTLS(ln net.Listener, timeout time.Duration, pending *pendingConns) (tlsLn, plainLn net.Listener) {
	return splitTLSChecked(ln, timeout, pending, nil)
}

// splitTLSChecked is splitTLS with the per-user check: each connection's
// peer is looked up first, while the peer's socket surely exists, and the
// verdict travels with the connection to the handlers (peer_answer.go).
func splitTLSChecked(ln net.Listener, timeout time.Duration, pending *pendingConns, peer func(net.Conn) *peerInfo) (tlsLn, plainLn net.Listener) {
	s := &splitListener{
		ln: ln, timeout: timeout, pending: pending, peer: peer,
		tlsC: make(chan net.Conn), plainC: make(chan net.Conn), done: make(chan struct{}),
		sniffing: make(map[net.Conn]struct{}),
	}
	go s.acceptLoop()
	return &splitHalf{s, s.tlsC}, &splitHalf{s, s.plainC}
}

func (s *splitListener) acceptLoop() {
	var delay time.Duration
	for {
		c, err := s.ln.Accept()
		if err != nil {
			if isTemporaryAccept(err) {
				// Out of file descriptors and the like: back off as
				// net/http does, instead of spinning or giving up.
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				select {
				case <-time.After(delay):
					continue
				case <-s.done:
					return
				}
			}
			s.mu.Lock()
			if !s.closed {
				s.acceptErr = err
			}
			s.mu.Unlock()
			s.Close()
			return
		}
		delay = 0
		if !s.track(c) {
			c.Close()
			return
		}
		if s.pending != nil {
			// Counted until the server has read its request or it closes;
			// the server's ConnState hook takes over after the sniff.
			s.pending.add(c)
		}
		go s.sniff(c)
	}
}

// track registers a connection being sniffed; false when already closed.
func (s *splitListener) track(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.sniffing[c] = struct{}{}
	return true
}

func (s *splitListener) untrack(c net.Conn) {
	s.mu.Lock()
	delete(s.sniffing, c)
	s.mu.Unlock()
}

// sniff reads the first byte and hands the connection, that byte included,
// to the matching half.
func (s *splitListener) sniff(c net.Conn) {
	var peer *peerInfo
	if s.peer != nil {
		peer = s.peer(c)
	}
	var first [1]byte
	_ = c.SetReadDeadline(time.Now().Add(s.timeout))
	_, err := c.Read(first[:]) // a conn's Read blocks until at least one byte
	_ = c.SetReadDeadline(time.Time{})
	s.untrack(c)
	if err != nil {
		s.drop(c)
		return
	}
	ch := s.plainC
	if first[0] == tlsHandshakeRecord {
		ch = s.tlsC
	}
	select {
	case ch <- &sniffedConn{Conn: c, first: first[0], pending: true, peer: peer}:
	case <-s.done:
		s.drop(c)
	}
}

// drop closes a connection that never reached a server.
func (s *splitListener) drop(c net.Conn) {
	c.Close()
	if s.pending != nil {
		s.pending.remove(c)
	}
}

func (s *splitListener) Close() error {
	var err error
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		for c := range s.sniffing {
			c.Close()
		}
		s.mu.Unlock()
		close(s.done)
		err = s.ln.Close()
	})
	return err
}

// isTemporaryAccept reports errors after which Accept can succeed again.
func isTemporaryAccept(err error) bool {
	var te interface{ Temporary() bool }
	return errors.As(err, &te) && te.Temporary() && !errors.Is(err, net.ErrClosed)
}

// splitHalf is one of the two listeners splitTLS returns.
type splitHalf struct {
	s  *splitListener
	ch chan net.Conn
}

func (h *splitHalf) Accept() (net.Conn, error) {
	select {
	case c := <-h.ch:
		return c, nil
	case <-h.s.done:
		h.s.mu.Lock()
		err := h.s.acceptErr
		h.s.mu.Unlock()
		if err == nil {
			err = net.ErrClosed
		}
		return nil, err
	}
}

func (h *splitHalf) Close() error   { return h.s.Close() }
func (h *splitHalf) Addr() net.Addr { return h.s.ln.Addr() }

// sniffedConn gives back the byte that was read to tell TLS from HTTP.
type sniffedConn struct {
	net.Conn
	mu      sync.Mutex
	first   byte
	pending bool
	peer    *peerInfo // the per-user check's verdict; nil: not checked
}

func (c *sniffedConn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return c.Conn.Read(p)
	}
	c.mu.Lock()
	if c.pending {
		c.pending = false
		p[0] = c.first
		c.mu.Unlock()
		return 1, nil
	}
	c.mu.Unlock()
	return c.Conn.Read(p)
}

// withPlainProbe sends requests that arrived without TLS to servePlain and
// the rest to next. Start installs it as the server's handler, so both
// halves of every listener share one http.Server, and Stop's Shutdown ends
// them together.
func (b *Bridge) withPlainProbe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// peer_answer.go: another user's process gets 403 on every request,
		// before the Host check or anything else looks at it.
		if p := peerOf(r); p.refused() {
			b.serveOtherUser(w, r, p)
			return
		}
		if r.TLS == nil {
			b.servePlain(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// servePlain answers a plain-HTTP request on the TLS port: GET /health gets
// PlainHealth, a navigation is redirected to https, anything else gets 400.
func (b *Bridge) servePlain(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", apiCSP)
	port := b.Port()
	if !hostAllowed(r.Host, port) {
		b.reject(w, r, http.StatusForbidden, fmt.Sprintf("Host %q is not this bridge: use localhost:%d", clip(r.Host, maxShownHost), port))
		return
	}
	secure := "https://" + r.Host
	// The path only: a ?token= must not come back in a Location header.
	b.log.Debug("plain HTTP request on the TLS port", "method", r.Method, "path", r.URL.Path, "client", r.RemoteAddr)
	switch {
	case r.URL.Path == "/health" && (r.Method == http.MethodGet || r.Method == http.MethodHead):
		// CORS exactly as on https: allowed origins only, named, never "*".
		if origin := r.Header.Get("Origin"); origin != "" && b.settings.Load().originAllowed(origin, port) {
			h.Set("Access-Control-Allow-Origin", origin)
		}
		h.Add("Vary", "Origin")
		h.Set("Content-Type", "application/json")
		if r.Method == http.MethodHead {
			return
		}
		_ = json.NewEncoder(w).Encode(PlainHealth{App: AppName, TLS: "use " + secure})
	case websocket.IsWebSocketUpgrade(r):
		http.Error(w, "400 Bad Request: Orion Bridge accepts secure WebSockets only: connect to wss://"+r.Host+r.URL.Path, http.StatusBadRequest)
	case r.Method == http.MethodGet || r.Method == http.MethodHead:
		http.Redirect(w, r, secure+r.URL.Path, http.StatusPermanentRedirect)
	default:
		http.Error(w, "400 Bad Request: this port speaks HTTPS: use "+secure+r.URL.Path, http.StatusBadRequest)
	}
}
