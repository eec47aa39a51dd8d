package app

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"orionbridge/bridge"
	"orionbridge/certs"
	"orionbridge/config"
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

	mu           sync.Mutex
	stopConsent  context.CancelFunc
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
		certDir := filepath.Join(cfg.DataDir, "certs")
		if err := owneronly.CheckDir("certificate folder", certDir); err != nil {
			return nil, fmt.Errorf("attach: %w", err)
		}
		pem, err := owneronly.ReadFile("CA certificate", certs.CAPath(certDir))
		if err != nil {
			return nil, fmt.Errorf("attach: read the bridge's CA: %w", err)
		}
		tlsConf.RootCAs = x509.NewCertPool()
		tlsConf.RootCAs.AppendCertsFromPEM(pem)
	}
	r := &Remote{
		base:   "https://localhost:" + strconv.Itoa(port),
		auth:   "Bearer " + secret,
		client: &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{TLSClientConfig: tlsConf}},
		dialer: websocket.Dialer{TLSClientConfig: tlsConf, HandshakeTimeout: 10 * time.Second},
	}
	if err := r.call(http.MethodGet, "/api/info", nil, &r.info); err != nil {
		return nil, fmt.Errorf("attach to %s: %w", r.base, err)
	}
	return r, nil
}

// Info describes the attached instance.
func (r *Remote) Info() Info { return r.info }

// call sends one request; in, when set, is sent as JSON, and a JSON answer
// is decoded into out.
func (r *Remote) call(method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, r.base+path, body)
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
		return json.NewDecoder(resp.Body).Decode(out)
	}
	return nil
}

// Snapshot implements Controller; an unreachable bridge shows as stopped.
func (r *Remote) Snapshot() bridge.Snapshot {
	var s bridge.Snapshot
	if r.call(http.MethodGet, "/api/snapshot", nil, &s) != nil {
		return bridge.Snapshot{}
	}
	return s
}

// Health implements Controller.
func (r *Remote) Health() bridge.Health {
	var h bridge.Health
	if err := r.call(http.MethodGet, "/api/health", nil, &h); err != nil {
		return bridge.Health{Status: "unreachable: " + err.Error()}
	}
	return h
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
	url := "wss" + strings.TrimPrefix(r.base, "https") + path
	for ctx.Err() == nil {
		ws, _, err := r.dialer.DialContext(ctx, url, http.Header{"Authorization": {r.auth}})
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
func (r *Remote) Start() error { return r.call(http.MethodPost, "/api/start", nil, nil) }

// Stop implements Controller: the remote bridge pauses, closing sessions
// with 1001, and keeps its port so it can be started again.
func (r *Remote) Stop() error { return r.call(http.MethodPost, "/api/stop", nil, nil) }

// Disconnect implements Controller.
func (r *Remote) Disconnect(id string) error {
	return r.call(http.MethodPost, "/api/sessions/"+id+"/disconnect", nil, nil)
}

// Config implements Controller.
func (r *Remote) Config() config.Config {
	var c config.Config
	_ = r.call(http.MethodGet, "/api/config", nil, &c)
	return c
}

// ConfigPath implements Controller.
func (r *Remote) ConfigPath() string { return r.info.ConfigPath }

// ApplyConfig implements Controller.
func (r *Remote) ApplyConfig(cfg config.Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	return r.call(http.MethodPut, "/api/config", cfg, nil)
}

// SetConsent implements Controller: while c is set, the remote bridge asks
// this process about unknown origins.
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
	r.consentAlive.Add(1)
	go func() {
		defer r.consentAlive.Done()
		r.stream(ctx, "/api/events?consent=1", func(ev bridge.Event) {
			if ev.Kind != ConsentRequested {
				return
			}
			origin := ev.Log.Message
			go func() {
				// The bridge gives up after its own wait; so does the prompt.
				askCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
				defer cancel()
				answer := c.AskOrigin(askCtx, origin)
				_ = r.call(http.MethodPost, "/api/consent", consentAnswerBody{Origin: origin, Answer: consentAnswerName(answer)}, nil)
			}()
		})
	}()
}

// Certificate implements Controller.
func (r *Remote) Certificate() CertificateReport {
	var j certificateJSON
	if err := r.call(http.MethodGet, "/api/certificate", nil, &j); err != nil {
		return CertificateReport{Err: err}
	}
	if j.Err != "" {
		j.Report.Err = fmt.Errorf("%s", j.Err)
	}
	return j.Report
}

// TrustCertificate implements Controller.
func (r *Remote) TrustCertificate() ([]certs.StoreResult, error) {
	var results []certs.StoreResult
	err := r.call(http.MethodPost, "/api/certificate/trust", nil, &results)
	return results, err
}

// RenewCertificate implements Controller.
func (r *Remote) RenewCertificate() error {
	return r.call(http.MethodPost, "/api/certificate/renew", nil, nil)
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
func (r *Remote) ShowDashboard() error { return r.call(http.MethodPost, "/api/show", nil, nil) }
