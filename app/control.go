package app

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"orionbridge/bridge"
	"orionbridge/config"
	"orionbridge/internal/owneronly"
)

// The control API lets a tray in another process (or `orionbridge status`)
// see and steer a running bridge, e.g. one running as a service. It lives
// under /api/ on the bridge's own port. Every request must carry the
// per-install secret; a request with an Origin header is refused, so no web
// page can reach it even with the secret.

const controlSecretName = "control.secret"

// controlSecretPath is where the secret lives: in the data dir, readable by
// the owning user only.
func controlSecretPath(dataDir string) string { return filepath.Join(dataDir, controlSecretName) }

// loadOrCreateControlSecret returns the install's control secret, creating
// it on first use. The data dir has passed owneronly's check (NewInstance);
// the secret must too: whoever wrote it could steer this bridge, including
// the engine command it runs. So a secret that is a symbolic link, is
// owned by another user or is readable or writable by others is refused,
// never used or overwritten.
func loadOrCreateControlSecret(dataDir string) (string, error) {
	path := controlSecretPath(dataDir)
	for range 2 {
		b, err := owneronly.ReadSecret("control secret", path)
		switch {
		case err == nil && len(strings.TrimSpace(string(b))) >= 32:
			return strings.TrimSpace(string(b)), nil
		case err == nil:
			// Ours but cut short (a crash while writing it): replace it.
			if err := os.Remove(path); err != nil {
				return "", fmt.Errorf("control secret %s: replace a truncated one: %w", path, err)
			}
		case !errors.Is(err, fs.ErrNotExist):
			return "", err
		}
		secret, err := createControlSecret(path)
		if errors.Is(err, fs.ErrExist) {
			continue // another instance created it just now: read theirs
		}
		return secret, err
	}
	return "", fmt.Errorf("control secret %s: created and removed repeatedly by another process", path)
}

// createControlSecret writes a new secret to path, which must not exist:
// O_EXCL and no symbolic link followed, owner-only from the first byte.
func createControlSecret(path string) (string, error) {
	buf := make([]byte, 32)
	if _, err := rand.Read(buf); err != nil {
		return "", fmt.Errorf("control secret: %w", err)
	}
	secret := hex.EncodeToString(buf)
	f, err := owneronly.Create(path, 0o600)
	if err != nil {
		return "", fmt.Errorf("control secret %s: %w", path, err)
	}
	_, err = f.WriteString(secret + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return "", fmt.Errorf("control secret %s: %w", path, err)
	}
	return secret, nil
}

// readControlSecret reads the secret of a running bridge, for clients. The
// data dir and the secret get the same check as the bridge gives them: a
// secret planted by someone else would send our requests, and the config
// we PUT, to a bridge of theirs.
func readControlSecret(dataDir string) (string, error) {
	if err := owneronly.CheckDir("data dir", dataDir); err != nil {
		return "", dataDirError(dataDir, err)
	}
	b, err := owneronly.ReadSecret("control secret", controlSecretPath(dataDir))
	if errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("read the control secret: %w (is Orion Bridge running as this user?)", err)
	}
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}

// decodeControlConfig reads the body of PUT /api/config: one Config as
// JSON, valid by the config file's rules.
func decodeControlConfig(body io.Reader) (config.Config, error) {
	var cfg config.Config
	if err := json.NewDecoder(body).Decode(&cfg); err != nil {
		return config.Config{}, fmt.Errorf("bad config JSON: %w", err)
	}
	if err := cfg.Validate(); err != nil {
		return config.Config{}, err
	}
	return cfg, nil
}

// The control API may not change what the bridge runs. Decision (issue
// 12): a PUT /api/config that changes launch, launch_dir or launch_env of
// any route (adds, edits or removes a launched route) is refused with 403
// and names the config file to edit instead. The secret proves only that
// the caller can read a file in the data dir; setting launch through it
// would turn any leak of that file into running any program as the
// operator, and saving it into their config would make that survive a
// restart. Editing the file takes write access to the user's config,
// which is what running a program as them takes anyway. The tray's
// Settings and Sites tabs do not edit these keys: they send the running
// values back unchanged, which is allowed.

// launchChangeError is a PUT /api/config that changes a route's launch keys.
type launchChangeError struct {
	route string // "routes[0] (/ws)"
	file  string // where to edit them
}

func (e *launchChangeError) Error() string {
	return e.route + ": launch, launch_dir and launch_env cannot be changed through the control API; " +
		"edit them in " + e.file + ", which Orion Bridge applies within seconds"
}

// checkLaunchUnchanged compares next with the running config route by
// path: every route keeps the launch keys it runs with, a new route has
// none, and no launched route is removed.
func checkLaunchUnchanged(running, next config.Config, file string) error {
	old := make(map[string]config.Route, len(running.Routes))
	for _, r := range running.Routes {
		old[r.Path] = r
	}
	kept := make(map[string]bool, len(next.Routes))
	for i, r := range next.Routes {
		kept[r.Path] = true
		if !sameLaunch(old[r.Path], r) {
			return &launchChangeError{route: fmt.Sprintf("routes[%d] (%s)", i, r.Path), file: file}
		}
	}
	for _, r := range running.Routes {
		if !kept[r.Path] && !sameLaunch(r, config.Route{}) {
			return &launchChangeError{route: "the route " + r.Path + ", which launches an engine,", file: file}
		}
	}
	return nil
}

func sameLaunch(a, b config.Route) bool {
	return slices.Equal(a.Launch, b.Launch) && a.LaunchDir == b.LaunchDir && maps.Equal(a.LaunchEnv, b.LaunchEnv)
}

// Info describes a running instance for remote clients.
type Info struct {
	Mode       string    `json:"mode"` // "tray" or "headless" (run, or a service)
	Version    string    `json:"version"`
	PID        int       `json:"pid"`
	Started    time.Time `json:"started"`
	ConfigPath string    `json:"config_path"`
	LogDir     string    `json:"log_dir"`
	// ManagedKeys are set by the machine-wide config: read-only in the UI.
	ManagedKeys []string `json:"managed_keys,omitempty"`
}

// consentAnswerBody is POSTed to /api/consent.
type consentAnswerBody struct {
	Origin string `json:"origin"`
	Answer string `json:"answer"` // allow-once | always-allow | deny | no-answer
}

var consentAnswers = map[string]bridge.ConsentAnswer{
	"allow-once": bridge.AllowOnce, "always-allow": bridge.AlwaysAllow, "deny": bridge.Deny, "no-answer": bridge.NoAnswer,
}

func consentAnswerName(a bridge.ConsentAnswer) string {
	for name, v := range consentAnswers {
		if v == a {
			return name
		}
	}
	return "no-answer"
}

// controlAPI serves /api/. It also stands in as the bridge's Consent when
// a remote tray that can answer is attached.
type controlAPI struct {
	in       *Instance
	secret   [32]byte // sha256 of the secret: constant-time compare, any length
	upgrader websocket.Upgrader
	mux      *http.ServeMux // the calls, behind ServeHTTP's checks

	mu        sync.Mutex
	prompters int    // attached remote trays that answer consent
	onShow    func() // bring the local dashboard forward
}

func newControlAPI(in *Instance, secret string) *controlAPI {
	c := &controlAPI{
		in:     in,
		secret: sha256.Sum256([]byte(secret)),
		// Only non-browser clients get here: the Origin check runs first.
		upgrader: websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }},
	}
	c.mux = c.routes()
	return c
}

// routes maps each call to its handler. Every path also gets a pattern
// without a method, which answers 405 naming the allowed ones; anything
// else under /api/ is a 404 naming the call.
func (c *controlAPI) routes() *http.ServeMux {
	mux := http.NewServeMux()
	allowed := map[string][]string{} // path pattern → methods
	handle := func(method, path string, h http.HandlerFunc) {
		mux.HandleFunc(method+" "+path, h)
		allowed[path] = append(allowed[path], method)
	}
	handle(http.MethodGet, "/api/info", func(w http.ResponseWriter, r *http.Request) { c.writeJSON(w, c.in.Info()) })
	handle(http.MethodGet, "/api/snapshot", func(w http.ResponseWriter, r *http.Request) {
		snap, _ := c.in.Snapshot(r.Context()) // in process: never fails
		c.writeJSON(w, snap)
	})
	handle(http.MethodGet, "/api/health", func(w http.ResponseWriter, r *http.Request) {
		h, _ := c.in.Health(r.Context())
		c.writeJSON(w, h)
	})
	handle(http.MethodGet, "/api/config", func(w http.ResponseWriter, r *http.Request) { c.writeJSON(w, c.in.RunningConfig()) })
	handle(http.MethodPut, "/api/config", c.putConfig)
	handle(http.MethodGet, "/api/certificate", func(w http.ResponseWriter, r *http.Request) {
		rep, _ := c.in.Certificate(r.Context())
		c.writeJSON(w, newCertificateJSON(rep))
	})
	handle(http.MethodPost, "/api/certificate/trust", func(w http.ResponseWriter, r *http.Request) {
		results, err := c.in.TrustCertificate()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		c.writeJSON(w, results)
	})
	handle(http.MethodPost, "/api/certificate/renew", func(w http.ResponseWriter, r *http.Request) { c.result(w, c.in.RenewCertificate()) })
	handle(http.MethodPost, "/api/start", func(w http.ResponseWriter, r *http.Request) { c.result(w, c.in.Start()) })
	handle(http.MethodPost, "/api/stop", func(w http.ResponseWriter, r *http.Request) {
		// The listener carries this API, so a remote stop pauses relaying
		// instead of closing the port.
		c.result(w, c.in.Bridge.Pause())
	})
	handle(http.MethodPost, "/api/reload", func(w http.ResponseWriter, r *http.Request) { c.result(w, c.in.Reload()) })
	handle(http.MethodPost, "/api/show", c.show)
	handle(http.MethodPost, "/api/consent", c.answerConsent)
	handle(http.MethodGet, "/api/events", c.streamEvents)
	handle(http.MethodPost, "/api/sessions/{id}/disconnect", func(w http.ResponseWriter, r *http.Request) {
		if err := c.in.Disconnect(r.PathValue("id")); err != nil {
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	for path, methods := range allowed {
		allow := strings.Join(methods, ", ")
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", allow)
			http.Error(w, "405 method not allowed: "+r.Method+" "+r.URL.Path+" takes "+allow, http.StatusMethodNotAllowed)
		})
	}
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "404 not found: no control API call "+r.Method+" "+r.URL.Path, http.StatusNotFound)
	})
	return mux
}

// ServeHTTP checks every request before routing it: no web page, and the
// secret.
func (c *controlAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Origin") != "" {
		// Rate-limited: any page can send these (bridge/refusals.go).
		c.in.Bridge.LogRefusal("control API refused a request from a web page", "", r.Header.Get("Origin"), "path", r.URL.Path)
		http.Error(w, "403 Forbidden: the control API is not for web pages", http.StatusForbidden)
		return
	}
	if r.URL.Path == proofPath && r.Method == http.MethodGet {
		c.serveProof(w, r) // before the secret is sent (controlproof.go)
		return
	}
	presented, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	h := sha256.Sum256([]byte(presented))
	if subtle.ConstantTimeCompare(h[:], c.secret[:]) != 1 {
		// The presented value is never logged: it may be a near-miss secret.
		c.in.Bridge.LogRefusal("control API refused a request without the secret", "", "", "path", r.URL.Path, "client", r.RemoteAddr)
		http.Error(w, "401 Unauthorized: send the secret from "+controlSecretName+" as Authorization: Bearer …", http.StatusUnauthorized)
		return
	}
	c.mux.ServeHTTP(w, r)
}

func (c *controlAPI) putConfig(w http.ResponseWriter, r *http.Request) {
	cfg, err := decodeControlConfig(http.MaxBytesReader(w, r.Body, 1<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	err = c.in.applyFromControlAPI(cfg)
	if _, ok := errors.AsType[*launchChangeError](err); ok {
		http.Error(w, "403 Forbidden: "+err.Error(), http.StatusForbidden)
		return
	}
	c.result(w, err)
}

func (c *controlAPI) show(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	show := c.onShow
	c.mu.Unlock()
	if show == nil {
		http.Error(w, "this Orion Bridge has no window to show", http.StatusConflict)
		return
	}
	show()
	w.WriteHeader(http.StatusNoContent)
}

func (c *controlAPI) writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// result answers 204, or 409 with the error, which names what went wrong.
func (c *controlAPI) result(w http.ResponseWriter, err error) {
	if err != nil {
		http.Error(w, err.Error(), http.StatusConflict)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// streamEvents sends every bridge event as a JSON text message. With
// ?consent=1 the client also answers consent questions while it is attached.
func (c *controlAPI) streamEvents(w http.ResponseWriter, r *http.Request) {
	ws, err := c.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	defer ws.Close()
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	events := c.in.Subscribe(ctx, 1024)
	if r.URL.Query().Get("consent") == "1" {
		c.attachPrompter()
		defer c.detachPrompter()
	}
	// A reader notices the client going away; control frames need it too.
	go func() {
		defer cancel()
		for {
			if _, _, err := ws.NextReader(); err != nil {
				return
			}
		}
	}()
	for ev := range events {
		_ = ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
		if err := ws.WriteJSON(eventJSON(ev)); err != nil {
			return
		}
	}
}

// attachPrompter makes remote trays the bridge's consent prompt.
func (c *controlAPI) attachPrompter() {
	c.mu.Lock()
	c.prompters++
	c.mu.Unlock()
	c.in.Bridge.SetConsent(c)
}

func (c *controlAPI) detachPrompter() {
	c.mu.Lock()
	c.prompters--
	last := c.prompters == 0
	c.mu.Unlock()
	if last {
		c.in.Bridge.SetConsent(c.in.localConsent())
	}
}

// AskOrigin implements bridge.Consent for attached remote trays. The
// bridge has announced the question as a ConsentRequested event on the
// stream; a remote tray answers with POST /api/consent, which goes to the
// bridge (AnswerConsent) and ends ctx. So this only waits.
func (c *controlAPI) AskOrigin(ctx context.Context, _ string) bridge.ConsentAnswer {
	<-ctx.Done()
	return bridge.NoAnswer
}

func (c *controlAPI) answerConsent(w http.ResponseWriter, r *http.Request) {
	var body consentAnswerBody
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&body); err != nil {
		http.Error(w, "bad JSON: "+err.Error(), http.StatusBadRequest)
		return
	}
	answer, ok := consentAnswers[body.Answer]
	if !ok {
		http.Error(w, "answer must be allow-once, always-allow, deny or no-answer", http.StatusBadRequest)
		return
	}
	if err := c.in.Bridge.AnswerConsent(body.Origin, answer); err != nil {
		http.Error(w, err.Error(), http.StatusNotFound)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// wireEvent is an event on the control stream: Kind is EventKind's name,
// and the field for that kind is set.
type wireEvent struct {
	Kind        string                    `json:"kind"`
	Time        time.Time                 `json:"time"`
	Session     *bridge.SessionInfo       `json:"session,omitempty"`
	Log         *bridge.LogEntry          `json:"log,omitempty"`
	Certificate *bridge.CertificateChange `json:"certificate,omitempty"` // certificate-changed
	Origin      string                    `json:"origin,omitempty"`      // consent-requested
}

func eventJSON(ev bridge.Event) wireEvent {
	w := wireEvent{Kind: ev.Kind.String(), Time: ev.Time}
	switch ev.Kind {
	case bridge.SessionOpened, bridge.SessionClosed:
		w.Session = &ev.Session
	case bridge.LogRecord:
		w.Log = &ev.Log
	case bridge.CertificateChanged:
		w.Certificate = &ev.Certificate
	case bridge.ConsentRequested:
		w.Origin = ev.Origin
	}
	return w
}

// event decodes a wireEvent; a kind this build does not know (a newer
// bridge) is an error, and the stream skips it.
func (w wireEvent) event() (bridge.Event, error) {
	kind, ok := bridge.ParseEventKind(w.Kind)
	if !ok {
		return bridge.Event{}, errors.New("unknown event kind " + w.Kind)
	}
	ev := bridge.Event{Kind: kind, Time: w.Time, Origin: w.Origin}
	if w.Session != nil {
		ev.Session = *w.Session
	}
	if w.Log != nil {
		ev.Log = *w.Log
	}
	if w.Certificate != nil {
		ev.Certificate = *w.Certificate
	}
	return ev, nil
}

// certificateJSON carries a CertificateReport over the wire (errors do not
// marshal).
type certificateJSON struct {
	Report CertificateReport `json:"report"`
	Err    string            `json:"err,omitempty"`
}

func newCertificateJSON(r CertificateReport) certificateJSON {
	j := certificateJSON{Report: r}
	if r.Err != nil {
		j.Err, j.Report.Err = r.Err.Error(), nil
	}
	return j
}
