// Package bridge serves wss://localhost and relays each browser WebSocket
// session to a fixed local TCP target. It decides who may connect (Host,
// Origin, token) and publishes what happens as events; it has no UI.
package bridge

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// Bridge is the local WebSocket endpoint. It can be started and stopped
// repeatedly; Subscribe and Snapshot work whether it runs or not.
type Bridge struct {
	settings atomic.Pointer[settings]
	log      *slog.Logger
	bus      *bus
	upgrader websocket.Upgrader
	nextID   atomic.Uint64
	reserved atomic.Int64 // sessions open or being opened, for max_clients
	consent  atomic.Pointer[consentHook]
	gate     *consentGate
	refusals *refusalLog   // refusals.go: rate-limited refusal lines
	reach    *reachability // reach.go: /health's cached engine dials

	// sniffTimeout is sniffTimeout unless a test changes it before Start.
	sniffTimeout time.Duration

	mu        sync.Mutex
	running   bool
	paused    bool // listening, but refusing sessions (see Pause)
	srv       *http.Server
	pending   *pendingConns // pending.go: connections not yet a session, per Start
	listeners []net.Listener
	port      int
	startedAt time.Time
	sessions  map[string]*Session
	sessionWG sync.WaitGroup
	serveWG   sync.WaitGroup
	// closing counts the closes started in the background (pause.go
	// closeInBackgroundLocked); Stop waits for them.
	closing sync.WaitGroup
	// testHookClosing, when set, runs in each background close before it
	// closes the session.
	testHookClosing func()
	totals          Totals
	portNote        PortNote // addrinuse.go: why port is not the configured one
	// unannounce removes this user's announce entry (announce.go); nil
	// when none was written.
	unannounce func()
}

// Totals are counters since the bridge was created.
type Totals struct {
	Sessions          int64 `json:"sessions"`
	BytesToEngine     int64 `json:"bytes_to_engine"`
	BytesToBrowser    int64 `json:"bytes_to_browser"`
	MessagesToEngine  int64 `json:"messages_to_engine"`
	MessagesToBrowser int64 `json:"messages_to_browser"`
}

// settings are the options in force, checked and parsed. They are replaced
// whole by Reconfigure; a session keeps the settings it started with.
type settings struct {
	opts    Options
	routes  map[string]Route
	origins []originPattern
	denied  []originPattern
	token   tokenCheck
}

func newSettings(opts Options) (*settings, error) {
	opts.setDefaults()
	if opts.GetCertificate == nil {
		return nil, errors.New("bridge: no certificate source (Options.GetCertificate is nil)")
	}
	if len(opts.Routes) == 0 {
		return nil, errors.New("bridge: no routes configured")
	}
	st := &settings{opts: opts, routes: make(map[string]Route, len(opts.Routes)), token: newTokenCheck(opts.Token)}
	for _, r := range opts.Routes {
		if !strings.HasPrefix(r.Path, "/") {
			return nil, fmt.Errorf("bridge: route path %q must start with /", r.Path)
		}
		if _, dup := st.routes[r.Path]; dup {
			return nil, fmt.Errorf("bridge: duplicate route path %q", r.Path)
		}
		if !r.Framing.Valid() {
			return nil, fmt.Errorf("bridge: route %s: unknown framing %q", r.Path, r.Framing)
		}
		if err := CheckTarget(r.Target); err != nil {
			return nil, fmt.Errorf("bridge: route %s: %w", r.Path, err)
		}
		st.routes[r.Path] = r
	}
	for _, list := range []struct {
		key  string
		in   []string
		into *[]originPattern
	}{{"allowed_origins", opts.AllowedOrigins, &st.origins}, {"denied_origins", opts.DeniedOrigins, &st.denied}} {
		for _, o := range list.in {
			p, err := parseOrigin(o)
			if err != nil {
				return nil, fmt.Errorf("bridge: %s: %w", list.key, err)
			}
			*list.into = append(*list.into, p)
		}
	}
	return st, nil
}

// New checks the options and builds a stopped Bridge.
func New(opts Options) (*Bridge, error) {
	st, err := newSettings(opts)
	if err != nil {
		return nil, err
	}
	b := &Bridge{bus: newBus(), sessions: make(map[string]*Session), gate: newConsentGate()}
	b.settings.Store(st)
	b.log = slog.New(&publishingHandler{next: st.opts.LogHandler, bus: b.bus})
	b.refusals, b.reach, b.sniffTimeout = newRefusalLog(b.log), newReachability(), sniffTimeout
	b.upgrader = websocket.Upgrader{
		HandshakeTimeout: 10 * time.Second,
		// A small read buffer only carries frame headers: payloads are read
		// straight into the relay buffer. (0 would reuse net/http's 4 KiB
		// reader, which keeps net/http's whole connection alive.)
		ReadBufferSize: 512,
		// Write buffers come from the pool only while a frame is written, so
		// idle sessions hold none; one engine read (rawReadSize) leaves as
		// one frame in one TLS write.
		WriteBufferSize: relayBufferSize,
		WriteBufferPool: &sync.Pool{},
		// The Origin was checked before Upgrade, against allowed_origins.
		CheckOrigin: func(*http.Request) bool { return true },
	}
	return b, nil
}

// Reconfigure applies new options. Origins, token, limits and routes take
// effect for new sessions at once and open sessions are untouched; a change
// of port or hosts restarts the listener (closing sessions with 1001). The
// log handler and certificate source stay those given to New.
func (b *Bridge) Reconfigure(opts Options) error {
	old := b.settings.Load()
	opts.LogHandler, opts.GetCertificate, opts.CertificateStatus = old.opts.LogHandler, old.opts.GetCertificate, old.opts.CertificateStatus
	st, err := newSettings(opts)
	if err != nil {
		return err
	}
	relisten := st.opts.Port != old.opts.Port || !slices.Equal(st.opts.FallbackPorts, old.opts.FallbackPorts) || !slices.Equal(st.opts.Hosts, old.opts.Hosts)
	b.mu.Lock()
	running := b.running
	b.mu.Unlock()
	if !running || !relisten {
		b.settings.Store(st)
		b.log.Info("configuration applied", "restarted", false)
		return nil
	}
	if err := b.Stop(); err != nil {
		return err
	}
	b.settings.Store(st)
	if err := b.Start(); err != nil {
		return err
	}
	b.log.Info("configuration applied", "restarted", true)
	return nil
}

// consentHook boxes a Consent for the atomic pointer.
type consentHook struct{ Consent }

// SetConsent installs the prompt for unknown origins; nil removes it.
func (b *Bridge) SetConsent(c Consent) {
	if c == nil {
		b.consent.Store(nil)
		return
	}
	b.consent.Store(&consentHook{c})
}

// Logger is the bridge's logger: records go to Options.LogHandler and to
// subscribers, so the app can log through it and show everything in one place.
func (b *Bridge) Logger() *slog.Logger { return b.log }

// Subscribe returns a subscription with room for buffer pending events.
func (b *Bridge) Subscribe(buffer int) *Subscription { return b.bus.subscribe(buffer) }

// Start binds the listener and serves until Stop. It returns an error when
// no port could be bound.
func (b *Bridge) Start() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.running && b.paused {
		b.paused = false
		b.log.Info("bridge resumed")
		b.bus.publish(Event{Kind: StateChanged, Time: time.Now()})
		return nil
	}
	if b.running {
		return errors.New("bridge already running")
	}
	lns, port, err := b.listen()
	if err != nil {
		return err
	}
	tlsConf := &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: b.settings.Load().opts.GetCertificate,
		// gorilla/websocket speaks HTTP/1.1 only; advertising h2 would let a
		// browser pick it for the upgrade request.
		NextProtos: []string{"http/1.1"},
	}
	pending := newPendingConns(func() int { return b.settings.Load().opts.MaxPendingConns }, b.refusals)
	b.srv = &http.Server{
		// probe.go: plain-HTTP requests on the same port get the probe answer only.
		Handler:           b.withPlainProbe(b),
		ConnState:         pending.connState, // pending.go: counts connections until their request is read
		ConnContext:       peerContext,       // peer_answer.go: each request knows its connection's user check
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    16 << 10,
		TLSConfig:         tlsConf,
		TLSNextProto:      map[string]func(*http.Server, *tls.Conn, http.Handler){},
		ErrorLog:          log.New(serverErrorWriter{b.log, b.refusals}, "", 0),
	}
	b.pending = pending
	b.listeners, b.port, b.running, b.startedAt = lns, port, true, time.Now()
	for _, ln := range lns {
		// probe.go: each port serves TLS and, for connections that do not
		// start with a TLS handshake, the plain-HTTP probe; both halves run
		// on b.srv, so Shutdown ends them together.
		tlsLn, plainLn := splitTLSChecked(ln, b.sniffTimeout, pending, b.peerCheck)
		for _, l := range []net.Listener{tls.NewListener(tlsLn, tlsConf), plainLn} {
			b.serveWG.Add(1)
			go func(l net.Listener) {
				defer b.serveWG.Done()
				if err := b.srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
					b.log.Error("listener failed", "addr", ln.Addr().String(), "err", err)
				}
			}(l)
		}
	}
	addrs := make([]string, len(lns))
	for i, ln := range lns {
		addrs[i] = ln.Addr().String()
	}
	b.log.Info("bridge listening", "endpoint", b.endpointLocked(), "addrs", strings.Join(addrs, " "))
	b.announceLocked() // peer_answer.go: the port for this user's pages, and the per-user check's warning
	b.bus.publish(Event{Kind: StateChanged, Time: time.Now()})
	return nil
}

// AppName identifies Orion Bridge in /health.
const AppName = "Orion Bridge"

// AlreadyRunningError says another Orion Bridge holds the port.
type AlreadyRunningError struct {
	Endpoint string
	PID      int
}

func (e *AlreadyRunningError) Error() string {
	return fmt.Sprintf("already running at %s (pid %d)", e.Endpoint, e.PID)
}

// listenAll binds every host on one port. Port 0 takes a free port from the
// first host and uses it for the rest.
func listenAll(hosts []string, port int) ([]net.Listener, int, error) {
	var lns []net.Listener
	closeAll := func() {
		for _, ln := range lns {
			ln.Close()
		}
	}
	for _, h := range hosts {
		ln, err := net.Listen("tcp", net.JoinHostPort(h, strconv.Itoa(port)))
		if err != nil {
			if len(lns) > 0 && isNoSuchAddress(err) {
				continue // e.g. no IPv6 loopback on this machine
			}
			closeAll()
			return nil, 0, fmt.Errorf("listen %s: %w", net.JoinHostPort(h, strconv.Itoa(port)), err)
		}
		lns = append(lns, ln)
		port = ln.Addr().(*net.TCPAddr).Port
	}
	if len(lns) == 0 {
		return nil, 0, errors.New("listen: no hosts configured")
	}
	return lns, port, nil
}

// Stop closes every session with 1001 "bridge shutting down", waits up to
// ShutdownGrace for them to end, and stops listening.
func (b *Bridge) Stop() error {
	b.mu.Lock()
	if !b.running {
		b.mu.Unlock()
		return nil
	}
	b.running, b.paused = false, false
	srv, pending := b.srv, b.pending
	if b.unannounce != nil {
		b.unannounce() // announce.go: no page is sent to a port that is closing
		b.unannounce = nil
	}
	sessions := make([]*Session, 0, len(b.sessions))
	for _, s := range b.sessions {
		sessions = append(sessions, s)
	}
	b.closeInBackgroundLocked(sessions, websocket.CloseGoingAway, "bridge shutting down")
	b.mu.Unlock()

	grace := b.settings.Load().opts.ShutdownGrace
	b.gate.cancelAll()
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	// Connections that are not yet a session hold no request: closing them
	// spares Shutdown waiting out their handshake timeouts.
	pending.closeAll()
	shutdownErr := srv.Shutdown(ctx)
	done := make(chan struct{})
	go func() { b.sessionWG.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		b.log.Warn("sessions still open after the shutdown grace period; closing them", "grace", grace)
		for _, s := range sessions {
			s.forceClose()
		}
		<-done
	}
	b.waitForCloses()
	b.serveWG.Wait()
	b.refusals.flush() // no refusal count is lost at Stop
	b.log.Info("bridge stopped")
	b.bus.publish(Event{Kind: StateChanged, Time: time.Now()})
	if shutdownErr != nil && !errors.Is(shutdownErr, context.DeadlineExceeded) {
		return fmt.Errorf("stop: %w", shutdownErr)
	}
	return nil
}

// Port is the port the bridge listens on, or 0 when it is stopped.
func (b *Bridge) Port() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.running {
		return 0
	}
	return b.port
}

// Endpoint is the wss URL base pages connect to, e.g. wss://localhost:21443.
func (b *Bridge) Endpoint() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.endpointLocked()
}

func (b *Bridge) endpointLocked() string {
	port := b.port
	if port == 0 {
		port = b.settings.Load().opts.Port
	}
	return "wss://localhost:" + strconv.Itoa(port)
}

// Disconnect closes one session with 1000 "closed by operator".
func (b *Bridge) Disconnect(id string) error {
	b.mu.Lock()
	s, ok := b.sessions[id]
	if ok {
		b.closeInBackgroundLocked([]*Session{s}, websocket.CloseNormalClosure, "closed by operator")
	}
	b.mu.Unlock()
	if !ok {
		return fmt.Errorf("disconnect %s: no such session", id)
	}
	return nil
}

// serverErrorWriter turns net/http's error log into slog records. A failed
// TLS handshake usually means the browser does not trust the certificate,
// which is worth saying plainly. Handshake failures are rate-limited like
// refusals (refusals.go): any page can cause thousands.
type serverErrorWriter struct {
	log      *slog.Logger
	refusals *refusalLog
}

func (w serverErrorWriter) Write(p []byte) (int, error) {
	msg := strings.TrimSpace(string(p))
	// "http: TLS handshake error from 127.0.0.1:53122: EOF": the address
	// differs per connection, so it is an attribute, not part of the kind.
	client, reason := "", msg
	if rest, ok := strings.CutPrefix(msg, "http: TLS handshake error from "); ok {
		if i := strings.Index(rest, ": "); i >= 0 {
			client, reason = rest[:i], rest[i+2:]
		}
	}
	switch {
	case strings.Contains(msg, "unknown certificate") || strings.Contains(msg, "bad certificate"):
		w.refusals.refused(slog.LevelWarn, "TLS handshake refused by the client: the browser does not trust the bridge certificate; run `orionbridge certs install`", reason, "", "client", client)
	case strings.Contains(msg, "TLS handshake error"):
		w.refusals.refused(slog.LevelDebug, "TLS handshake failed", reason, "", "client", client)
	default:
		w.log.Warn("http server", "detail", msg)
	}
	return len(p), nil
}
