package bridge

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"orionbridge/assets"
)

// pageCSP allows the diagnostics page its own scripts and sockets and
// nothing else; frame-ancestors 'self' keeps other sites from framing it.
const pageCSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self' wss://localhost:%[1]d wss://127.0.0.1:%[1]d; frame-ancestors 'self'; base-uri 'none'; form-action 'none'"

// apiCSP is for responses that are never rendered as documents.
const apiCSP = "default-src 'none'; frame-ancestors 'none'"

var webFiles = func() fs.FS {
	sub, err := fs.Sub(assets.Web, "web")
	if err != nil {
		panic(err) // the embed pattern guarantees the directory
	}
	return sub
}()

// ServeHTTP checks the Host header first for every request, then dispatches
// to a route, /health, or the diagnostics page's files.
func (b *Bridge) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	port := b.Port()
	if !hostAllowed(r.Host, port) {
		b.reject(w, r, http.StatusForbidden, fmt.Sprintf("Host %q is not this bridge: use localhost:%d (other host names are refused to defeat DNS rebinding)", clip(r.Host, maxShownHost), port))
		return
	}
	st := b.settings.Load()
	if route, ok := st.routes[r.URL.Path]; ok {
		h.Set("Content-Security-Policy", apiCSP)
		b.serveRoute(w, r, st, route)
		return
	}
	if strings.HasPrefix(r.URL.Path, "/api/") && st.opts.Control != nil {
		h.Set("Content-Security-Policy", apiCSP)
		st.opts.Control.ServeHTTP(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		h.Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if r.URL.Path == "/health" {
		h.Set("Content-Security-Policy", apiCSP)
		b.serveHealth(w, r, port)
		return
	}
	h.Set("Content-Security-Policy", fmt.Sprintf(pageCSP, port))
	name := strings.TrimPrefix(path.Clean(r.URL.Path), "/")
	// The example shop page is embedded for `demo-site`; on the bridge's
	// own origin it would not work, so it is not served here.
	if name == "example" || strings.HasPrefix(name, "example/") {
		name = "\x00"
	}
	if name == "" {
		name = "index.html"
	}
	if fi, err := fs.Stat(webFiles, name); err != nil || fi.IsDir() || name == "index.html" && r.URL.Path != "/" {
		b.log.Debug("not found", "path", r.URL.Path)
		http.Error(w, "404 not found: the bridge serves "+st.routeList()+", /health and the diagnostics page at /", http.StatusNotFound)
		return
	}
	if name == "client.js" {
		// A page on another site may import the JS client straight from the
		// bridge; a module script is always fetched with CORS. Allowed
		// origins only, named exactly, as for /health; never "*".
		if origin := r.Header.Get("Origin"); origin != "" && st.originAllowed(origin, port) {
			h.Set("Access-Control-Allow-Origin", origin)
		}
		h.Add("Vary", "Origin")
	}
	http.ServeFileFS(w, r, webFiles, name)
}

func (st *settings) routeList() string {
	paths := make([]string, 0, len(st.opts.Routes))
	for _, r := range st.opts.Routes {
		paths = append(paths, r.Path)
	}
	return strings.Join(paths, ", ")
}

// maxShownHost bounds a refused Host as the reason quotes it: the header
// may be as long as the whole header limit.
const maxShownHost = 100

// reject answers a refused request and logs the reason, rate-limited per
// reason and origin (refusals.go): a hostile page can cause thousands a
// second. The reason is safe to show: it never contains the token.
func (b *Bridge) reject(w http.ResponseWriter, r *http.Request, status int, reason string) {
	b.refusals.refused(slog.LevelWarn, "request refused", reason, r.Header.Get("Origin"),
		"status", status, "path", r.URL.Path, "client", r.RemoteAddr)
	http.Error(w, strconv.Itoa(status)+" "+http.StatusText(status)+": "+reason, status)
}

// ownOrigin reports whether origin is the bridge's own diagnostics page.
func ownOrigin(origin string, port int) bool {
	for _, h := range []string{"localhost", "127.0.0.1", "[::1]"} {
		if strings.EqualFold(origin, "https://"+h+":"+strconv.Itoa(port)) {
			return true
		}
	}
	return false
}

func (st *settings) originAllowed(origin string, port int) bool {
	return ownOrigin(origin, port) || originAllowed(st.origins, origin)
}

// serveRoute runs the checks in a fixed order, each with its own status,
// then upgrades and hands the connection to a Session.
func (b *Bridge) serveRoute(w http.ResponseWriter, r *http.Request, st *settings, route Route) {
	port := b.Port()
	if !websocket.IsWebSocketUpgrade(r) {
		b.reject(w, r, http.StatusBadRequest, route.Path+" is a WebSocket endpoint: connect with new WebSocket(\"wss://localhost:"+strconv.Itoa(port)+route.Path+"\")")
		return
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		b.reject(w, r, http.StatusForbidden, "no Origin header: only browsers on allowed sites may connect")
		return
	}
	if ok, reason := b.admitOrigin(r, st, origin, port); !ok {
		b.reject(w, r, http.StatusForbidden, reason)
		return
	}
	token := presentedToken(r)
	if st.token.set && !st.token.ok(token) {
		reason := "missing token: pass ?token=… or the subprotocol bearer.<token>"
		if token != "" {
			reason = "wrong token"
		}
		b.reject(w, r, http.StatusUnauthorized, reason)
		return
	}
	if b.Paused() {
		b.reject(w, r, http.StatusServiceUnavailable, "Orion Bridge is stopped: start it from the tray (Start Bridge)")
		return
	}
	if n := b.reserved.Add(1); n > int64(st.opts.MaxClients) {
		b.reserved.Add(-1)
		b.reject(w, r, http.StatusServiceUnavailable, fmt.Sprintf("max_clients (%d) sessions are already open", st.opts.MaxClients))
		return
	}
	var respHeader http.Header
	if p := chooseSubprotocol(r); p != "" {
		respHeader = http.Header{"Sec-Websocket-Protocol": {p}}
	}
	// session.go: the session reads through a browserConn.
	ws, err := b.upgrader.Upgrade(hijackInto{w, &browserConn{}}, r, respHeader)
	if err != nil {
		b.reserved.Add(-1)
		b.log.Warn("upgrade failed", "path", route.Path, "origin", origin, "client", r.RemoteAddr, "err", err)
		return
	}
	ws.SetReadLimit(st.opts.MaxMessageBytes)
	ctx, cancel := context.WithCancel(context.Background())
	s := &Session{
		b: b, st: st, id: "s" + strconv.FormatUint(b.nextID.Add(1), 10),
		origin: origin, client: r.RemoteAddr, route: route, started: time.Now(),
		ws: ws, ctx: ctx, cancel: cancel, state: StateConnecting,
	}
	if !b.register(s) {
		b.reserved.Add(-1)
		reason := "bridge shutting down"
		if b.Paused() {
			reason = "bridge stopped by the operator"
		}
		s.finish(websocket.CloseGoingAway, reason, true)
		ws.Close()
		return
	}
	// The session runs on its own goroutine so that net/http drops the
	// hijacked connection's buffers, the request and the handler's stack,
	// which the TLS handshake grew: about half of an idle session's memory
	// (docs/benchmarks.md). Stop waits on sessionWG, not on handlers.
	go func() {
		defer b.unregister(s)
		s.run()
	}()
}

// addLive adds a live session's counters to totals, so Snapshot's totals
// include traffic of sessions that are still open.
func addLive(t *Totals, s *Session) {
	t.BytesToEngine += s.bytesToEngine.Load()
	t.BytesToBrowser += s.bytesToBrowser.Load()
	t.MessagesToEngine += s.messagesToEngine.Load()
	t.MessagesToBrowser += s.messagesToBrowser.Load()
}

// RouteHealth is one route as reported by /health.
type RouteHealth struct {
	Path      string  `json:"path"`
	Target    string  `json:"target"`
	Framing   Framing `json:"framing"`
	Reachable bool    `json:"reachable"`
	// Engine is the state of the engine the app runs for this route (see
	// Options.EngineState); absent when it runs none.
	Engine string `json:"engine,omitempty"`
	// LineEnding is a lines route's line ending ("lf" or "crlf"), as
	// configured; absent for other framings.
	LineEnding LineEnding `json:"line_ending,omitempty"`
}

// Health is the /health document.
type Health struct {
	Status      string        `json:"status"`
	App         string        `json:"app"` // always AppName: how a second instance recognises the first
	Version     string        `json:"version"`
	PID         int           `json:"pid"`
	Routes      []RouteHealth `json:"routes"`
	Sessions    int           `json:"sessions"`
	Certificate any           `json:"certificate,omitempty"`
	// BrowserPolicy is Options.BrowserPolicyStatus's answer.
	BrowserPolicy any `json:"browser_policy,omitempty"`
	// User is the OS user whose bridge this is, for the diagnostics page;
	// set only for the bridge's own page and for clients without an
	// Origin (the control API, status), never for other sites' pages.
	User string `json:"user,omitempty"`
}

// Health probes each route's engine with a short dial, in parallel. A dial's
// answer is reused for about a second, and concurrent callers share one
// dial (reach.go): /health is unauthenticated.
func (b *Bridge) Health() Health {
	st := b.settings.Load()
	status := "ok"
	if b.Paused() {
		status = "paused" // listening for the tray, but refusing sessions
	}
	h := Health{Status: status, App: AppName, Version: st.opts.Version, PID: os.Getpid(), Routes: make([]RouteHealth, len(st.opts.Routes))}
	var wg sync.WaitGroup
	for i, r := range st.opts.Routes {
		h.Routes[i] = RouteHealth{Path: r.Path, Target: r.Target, Framing: r.Framing, LineEnding: r.LineEnding}
		if st.opts.EngineState != nil {
			h.Routes[i].Engine = st.opts.EngineState(r.Path)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			h.Routes[i].Reachable = b.reach.reachable(r.Target)
		}()
	}
	wg.Wait()
	b.mu.Lock()
	h.Sessions = len(b.sessions)
	b.mu.Unlock()
	if st.opts.CertificateStatus != nil {
		h.Certificate = st.opts.CertificateStatus()
	}
	if st.opts.BrowserPolicyStatus != nil {
		h.BrowserPolicy = st.opts.BrowserPolicyStatus()
	}
	return h
}

func (b *Bridge) serveHealth(w http.ResponseWriter, r *http.Request, port int) {
	// CORS only for allowed origins, named exactly; never "*".
	if origin := r.Header.Get("Origin"); origin != "" && b.settings.Load().originAllowed(origin, port) {
		w.Header().Set("Access-Control-Allow-Origin", origin)
	}
	w.Header().Add("Vary", "Origin")
	w.Header().Set("Content-Type", "application/json")
	h := b.Health()
	if origin := r.Header.Get("Origin"); origin == "" || ownOrigin(origin, port) {
		h.User = bridgeUserName() // peer_answer.go; only this user's processes get here
	}
	_ = json.NewEncoder(w).Encode(h)
}
