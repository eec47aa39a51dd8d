package app

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"orionbridge/bridge"
	"orionbridge/certs"
	"orionbridge/config"
	"orionbridge/internal/machinedir"
	"orionbridge/internal/owneronly"
)

// Remote is a Controller for a bridge running in another process, such as
// a service, reached through its control API. The tray uses it exactly as
// it uses an in-process Instance.
type Remote struct {
	base   string // https://localhost:PORT
	auth   string // "Bearer <secret>"
	client *http.Client
	dialer websocket.Dialer
	info   Info

	mu          sync.Mutex
	stopConsent context.CancelFunc
	// consentAlive counts the consent stream and every question it is
	// asking this process about; SetConsent and Close wait for them.
	consentAlive sync.WaitGroup
}

var _ Controller = (*Remote)(nil)

// Attach connects to the bridge that cfg describes, running as the same
// user (it reads the control secret from cfg's data dir).
func Attach(cfg config.Config, port int) (*Remote, error) {
	secret, err := readControlSecret(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	tlsConf := &tls.Config{}
	if cfg.CertFile == "" {
		// A CA someone else planted would have us send the secret to
		// their server: the same check as the secret's.
		tlsConf.RootCAs = x509.NewCertPool()
		// The bridge serves the machine certificate when there is one
		// (certs.OpenServed), else the user's own.
		if certs.MachineInstalled(machinedir.Path()) {
			pem, err := owneronly.ReadMachineFile("machine CA certificate", certs.CAPath(certs.MachineCertsDir(machinedir.Path())))
			if err != nil {
				return nil, fmt.Errorf("attach: read the machine CA: %w", err)
			}
			tlsConf.RootCAs.AppendCertsFromPEM(pem)
		} else {
			certDir := filepath.Join(cfg.DataDir, "certs")
			if err := owneronly.CheckDir("certificate folder", certDir); err != nil {
				return nil, fmt.Errorf("attach: %w", err)
			}
			pem, err := owneronly.ReadFile("CA certificate", certs.CAPath(certDir))
			if err != nil {
				return nil, fmt.Errorf("attach: read the bridge's CA: %w", err)
			}
			tlsConf.RootCAs.AppendCertsFromPEM(pem)
		}
	}
	r := &Remote{
		base:   "https://localhost:" + strconv.Itoa(port),
		auth:   "Bearer " + secret,
		client: &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{TLSClientConfig: tlsConf}},
		dialer: websocket.Dialer{TLSClientConfig: tlsConf, HandshakeTimeout: 10 * time.Second},
	}
	if err := r.checkProof(secret); err != nil {
		return nil, fmt.Errorf("attach to %s: %w", r.base, err)
	}
	if err := r.call(context.Background(), http.MethodGet, "/api/info", nil, &r.info); err != nil {
		return nil, fmt.Errorf("attach to %s: %w", r.base, err)
	}
	return r, nil
}

// Info describes the attached instance.
func (r *Remote) Info() Info { return r.info }

// call sends one request; in, when set, is sent as JSON, and a JSON answer
// is decoded into out.
func (r *Remote) call(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, r.base+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", r.auth)
	resp, err := r.client.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("%s", strings.TrimSpace(string(msg)))
	}
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			return fmt.Errorf("%s %s: decode the answer: %w", method, path, err)
		}
	}
	return nil
}

// Snapshot implements Controller. The error says the bridge could not be
// reached, or did not answer as expected.
func (r *Remote) Snapshot(ctx context.Context) (bridge.Snapshot, error) {
	var s bridge.Snapshot
	if err := r.call(ctx, http.MethodGet, "/api/snapshot", nil, &s); err != nil {
		return bridge.Snapshot{}, err
	}
	return s, nil
}

// Health implements Controller.
func (r *Remote) Health(ctx context.Context) (bridge.Health, error) {
	var h bridge.Health
	if err := r.call(ctx, http.MethodGet, "/api/health", nil, &h); err != nil {
		return bridge.Health{}, err
	}
	return h, nil
}

// Subscribe implements Controller. The stream reconnects after a restart of
// the bridge until ctx is done.
func (r *Remote) Subscribe(ctx context.Context, buffer int) <-chan bridge.Event {
	out := make(chan bridge.Event, buffer)
	go func() {
		defer close(out)
		r.stream(ctx, "/api/events", func(ev bridge.Event) {
			select {
			case out <- ev:
			default: // a slow reader loses events, as with the in-process bus
			}
		})
	}()
	return out
}

// stream reads the event stream at path, reconnecting with a pause, and
// calls fn for each event until ctx is done.
func (r *Remote) stream(ctx context.Context, path string, fn func(bridge.Event)) {
	wsURL := "wss" + strings.TrimPrefix(r.base, "https") + path
	for ctx.Err() == nil {
		ws, _, err := r.dialer.DialContext(ctx, wsURL, http.Header{"Authorization": {r.auth}})
		if err == nil {
			stop := context.AfterFunc(ctx, func() { ws.Close() })
			for {
				var w wireEvent
				if err := ws.ReadJSON(&w); err != nil {
					break
				}
				if ev, err := w.event(); err == nil {
					fn(ev)
				}
			}
			stop()
			ws.Close()
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

// Start implements Controller.
func (r *Remote) Start() error {
	return r.call(context.Background(), http.MethodPost, "/api/start", nil, nil)
}

// Stop implements Controller: the remote bridge pauses, closing sessions
// with 1001, and keeps its port so it can be started again.
func (r *Remote) Stop() error {
	return r.call(context.Background(), http.MethodPost, "/api/stop", nil, nil)
}

// Disconnect implements Controller.
func (r *Remote) Disconnect(id string) error {
	return r.call(context.Background(), http.MethodPost, "/api/sessions/"+url.PathEscape(id)+"/disconnect", nil, nil)
}

// Config implements Controller. An unreachable bridge is an error, never
// an empty config a caller could save over the real one.
func (r *Remote) Config(ctx context.Context) (config.Config, error) {
	var c config.Config
	if err := r.call(ctx, http.MethodGet, "/api/config", nil, &c); err != nil {
		return config.Config{}, err
	}
	return c, nil
}

// ConfigPath implements Controller.
func (r *Remote) ConfigPath() string { return r.info.ConfigPath }

// ApplyConfig implements Controller.
func (r *Remote) ApplyConfig(cfg config.Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	return r.call(context.Background(), http.MethodPut, "/api/config", cfg, nil)
}

// SetConsent implements Controller: while c is set, the remote bridge asks
// this process about unknown origins. Each question is asked on a goroutine
// of its own (the stream must keep reading meanwhile), counted in
// consentAlive: replacing or removing c, and Close, end them and wait.
func (r *Remote) SetConsent(c bridge.Consent) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopConsent != nil {
		r.stopConsent()
		r.consentAlive.Wait()
		r.stopConsent = nil
	}
	if c == nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.stopConsent = cancel
	r.consentAlive.Go(func() {
		r.stream(ctx, "/api/events?consent=1", func(ev bridge.Event) {
			if ev.Kind != bridge.ConsentRequested {
				return
			}
			// Added while the stream's own count is held, so never to a
			// WaitGroup that SetConsent already waits on at zero.
			r.consentAlive.Go(func() { r.askConsent(ctx, c, ev.Origin) })
		})
	})
}

// consentPostWait bounds posting an answer: Close waits for it.
const consentPostWait = 5 * time.Second

// askConsent asks c about origin and posts the answer. The bridge gives up
// after bridge.ConsentWait; so does the prompt here.
func (r *Remote) askConsent(ctx context.Context, c bridge.Consent, origin string) {
	askCtx, cancel := context.WithTimeout(ctx, bridge.ConsentWait)
	defer cancel()
	answer := c.AskOrigin(askCtx, origin)
	// Posted even when this process detaches (ctx done, answer NoAnswer):
	// the browser's request is then refused at once rather than after the
	// bridge's whole wait. Bounded, as SetConsent and Close wait for it.
	postCtx, cancelPost := context.WithTimeout(context.WithoutCancel(ctx), consentPostWait)
	defer cancelPost()
	body := consentAnswerBody{Origin: origin, Answer: consentAnswerName(answer)}
	if err := r.call(postCtx, http.MethodPost, "/api/consent", body, nil); err != nil {
		// Most often the question ended meanwhile (timed out, or the
		// bridge stopped): nothing to do but say so.
		slog.Debug("consent answer not delivered", "origin", origin, "answer", body.Answer, "err", err)
	}
}

// Certificate implements Controller.
func (r *Remote) Certificate(ctx context.Context) (CertificateReport, error) {
	var j certificateJSON
	if err := r.call(ctx, http.MethodGet, "/api/certificate", nil, &j); err != nil {
		return CertificateReport{}, err
	}
	if j.Err != "" {
		j.Report.Err = errors.New(j.Err)
	}
	return j.Report, nil
}

// TrustCertificate implements Controller.
func (r *Remote) TrustCertificate() ([]certs.StoreResult, error) {
	var results []certs.StoreResult
	err := r.call(context.Background(), http.MethodPost, "/api/certificate/trust", nil, &results)
	return results, err
}

// RenewCertificate implements Controller.
func (r *Remote) RenewCertificate() error {
	return r.call(context.Background(), http.MethodPost, "/api/certificate/renew", nil, nil)
}

// LogDir implements Controller.
func (r *Remote) LogDir() string { return r.info.LogDir }

// Close ends the consent stream.
func (r *Remote) Close() {
	r.SetConsent(nil)
	r.client.CloseIdleConnections()
}

// ShowDashboard asks a tray app that runs the bridge to bring its dashboard
// forward (a second start of the tray app does this).
func (r *Remote) ShowDashboard() error {
	return r.call(context.Background(), http.MethodPost, "/api/show", nil, nil)
}
