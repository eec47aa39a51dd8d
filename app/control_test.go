package app

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"orionbridge/bridge"
)

func controlRequest(t *testing.T, in *Instance, method, path string, hdr http.Header) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, "https://localhost:"+strconv.Itoa(in.Bridge.Port())+path, nil)
	req.Header = hdr
	client := http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	defer client.CloseIdleConnections()
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func TestControlAPIAccess(t *testing.T) {
	var logs bytes.Buffer
	var mu sync.Mutex
	in := startInstanceWith(t, slog.NewTextHandler(lockedWriter{&mu, &logs}, nil))
	secret, err := readControlSecret(in.RunningConfig().DataDir)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		hdr    http.Header
		status int
	}{
		{"no secret", http.Header{}, http.StatusUnauthorized},
		{"wrong secret", http.Header{"Authorization": {"Bearer " + strings.Repeat("0", 64)}}, http.StatusUnauthorized},
		{"secret from a web page", http.Header{"Authorization": {"Bearer " + secret}, "Origin": {"https://localhost:" + strconv.Itoa(in.Bridge.Port())}}, http.StatusForbidden},
		{"secret", http.Header{"Authorization": {"Bearer " + secret}}, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if status, body := controlRequest(t, in, "GET", "/api/snapshot", tt.hdr); status != tt.status {
				t.Fatalf("status %d (%s), want %d", status, body, tt.status)
			}
		})
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Contains(logs.String(), secret) {
		t.Fatal("the control secret reached the log")
	}
	if !strings.Contains(logs.String(), "control API refused") {
		t.Fatal("refusals are not logged")
	}
}

// answering is a consent prompt that says AllowOnce and records the origin.
type answering struct {
	mu     sync.Mutex
	asked  []string
	answer bridge.ConsentAnswer
}

func (a *answering) AskOrigin(_ context.Context, origin string) bridge.ConsentAnswer {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.asked = append(a.asked, origin)
	return a.answer
}

func TestRemoteController(t *testing.T) {
	in := startInstance(t)
	cfg := in.RunningConfig()
	cfg.AllowedOrigins = []string{"https://editor.example.com"}
	if err := in.ApplyConfig(cfg); err != nil {
		t.Fatal(err)
	}
	r, err := Attach(cfg, in.Bridge.Port())
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if r.Info().Mode != "headless" || r.LogDir() != in.LogDir() || r.ConfigPath() != in.ConfigPath() {
		t.Fatalf("info %+v", r.Info())
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events := r.Subscribe(ctx, 64)
	time.Sleep(100 * time.Millisecond) // let the stream attach before the session opens
	ws := dialSession(t, in, "https://editor.example.com")
	var opened bridge.Event
	for opened.Kind != bridge.SessionOpened {
		select {
		case opened = <-events:
		case <-time.After(10 * time.Second):
			t.Fatal("no session-opened event over the control API")
		}
	}
	snap, err := r.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !snap.Running || len(snap.Sessions) != 1 || snap.Sessions[0].ID != opened.Session.ID {
		t.Fatalf("remote snapshot %+v", snap)
	}
	if h, err := r.Health(ctx); err != nil || h.App != bridge.AppName || len(h.Routes) != 1 {
		t.Fatalf("remote health %+v, %v", h, err)
	}
	if err := r.Disconnect(opened.Session.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ws.ReadMessage(); err == nil || !strings.Contains(err.Error(), "closed by operator") {
		t.Fatalf("after a remote disconnect: %v", err)
	}

	// A remote Stop pauses: sessions close, new ones get 503, Start resumes.
	ws = dialSession(t, in, "https://editor.example.com")
	if err := r.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ws.ReadMessage(); err == nil || !strings.Contains(err.Error(), "1001") {
		t.Fatalf("after a remote stop: %v", err)
	}
	if s := connect(t, in, "https://editor.example.com"); s != http.StatusServiceUnavailable {
		t.Fatalf("while stopped: %d", s)
	}
	if snap, err := r.Snapshot(ctx); err != nil || snap.Running {
		t.Fatalf("a paused bridge reports running %v, %v", snap.Running, err)
	}
	if err := r.Start(); err != nil {
		t.Fatal(err)
	}
	if s := connect(t, in, "https://editor.example.com"); s != http.StatusSwitchingProtocols {
		t.Fatalf("after a remote start: %d", s)
	}

	// Consent questions reach the remote prompt.
	prompt := &answering{answer: bridge.AllowOnce}
	r.SetConsent(prompt)
	time.Sleep(200 * time.Millisecond) // the consent stream attaches
	if s := connect(t, in, "https://shop.example.com"); s != http.StatusSwitchingProtocols {
		t.Fatalf("consent via the remote tray: %d", s)
	}
	prompt.mu.Lock()
	if len(prompt.asked) != 1 || prompt.asked[0] != "https://shop.example.com" {
		t.Fatalf("asked %v", prompt.asked)
	}
	prompt.mu.Unlock()

	// Config round trip.
	remoteCfg, err := r.Config(ctx)
	if err != nil {
		t.Fatal(err)
	}
	remoteCfg.MaxClients = 7
	if err := r.ApplyConfig(remoteCfg); err != nil {
		t.Fatal(err)
	}
	if in.RunningConfig().MaxClients != 7 {
		t.Fatal("the remote config change was not applied")
	}
	if rep, err := r.Certificate(ctx); err != nil || rep.Status.CAFingerprint == "" {
		t.Fatalf("remote certificate %+v, %v", rep, err)
	}
}

// lockedWriter lets a test read a log buffer that the bridge writes to.
type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
