package app

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"orionbridge/bridge"
	"orionbridge/config"
	"orionbridge/internal/testutil"
)

// startInstance runs an Instance on a free port with a temporary data dir
// and config file, relaying to an echo engine.
func startInstance(t *testing.T) *Instance {
	t.Helper()
	return startInstanceWith(t, slog.DiscardHandler)
}

func startInstanceWith(t *testing.T, handler slog.Handler) *Instance {
	t.Helper()
	engine, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { engine.Close() })
	go func() {
		for {
			c, err := engine.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); buf := make([]byte, 1024); n, _ := c.Read(buf); c.Write(buf[:n]) }()
		}
	}()
	cfg := config.Default()
	cfg.Port, cfg.FallbackPorts, cfg.DataDir = testutil.FreePort(t), nil, t.TempDir()
	cfg.Routes[0].Target = engine.Addr().String()
	in, err := NewInstance("test", cfg, handler)
	if err != nil {
		t.Fatal(err)
	}
	in.SetConfigPath(filepath.Join(t.TempDir(), "config.toml"))
	if err := in.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Stop() })
	return in
}

// connect opens a session from origin and reports the HTTP status.
func connect(t *testing.T, in *Instance, origin string) int {
	t.Helper()
	c, resp, err := dialInstance(t, in, origin)
	if c != nil {
		c.Close()
	}
	if resp == nil {
		t.Fatalf("dial: %v", err)
	}
	return resp.StatusCode
}

// dialSession opens a session from origin that the test keeps.
func dialSession(t *testing.T, in *Instance, origin string) *websocket.Conn {
	t.Helper()
	c, _, err := dialInstance(t, in, origin)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	return c
}

func dialInstance(t *testing.T, in *Instance, origin string) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	d := testutil.BridgeDialer(t, in.RunningConfig().DataDir)
	return d.Dial(in.Bridge.Snapshot().Endpoint+"/ws", http.Header{"Origin": {origin}})
}

func TestApplyConfigSavesAndApplies(t *testing.T) {
	in := startInstance(t)
	const origin = "https://editor.example.com"
	if s := connect(t, in, origin); s != http.StatusForbidden {
		t.Fatalf("before: %d", s)
	}
	cfg := in.RunningConfig()
	cfg.AllowedOrigins = []string{origin}
	if err := in.ApplyConfig(cfg); err != nil {
		t.Fatal(err)
	}
	if s := connect(t, in, origin); s != http.StatusSwitchingProtocols {
		t.Fatalf("after: %d", s)
	}
	saved, err := config.Load(in.ConfigPath())
	if err != nil || !slices.Equal(saved.AllowedOrigins, []string{origin}) {
		t.Fatalf("saved %v, %v", saved.AllowedOrigins, err)
	}
	cfg.MaxClients = 0
	if err := in.ApplyConfig(cfg); err == nil || !strings.Contains(err.Error(), "max_clients") {
		t.Fatalf("invalid config: %v", err)
	}
	if in.RunningConfig().MaxClients == 0 {
		t.Fatal("an invalid config was applied")
	}
}

// prompt answers every consent question with one answer.
type prompt bridge.ConsentAnswer

func (p prompt) AskOrigin(context.Context, string) bridge.ConsentAnswer {
	return bridge.ConsentAnswer(p)
}

func TestConsentAnswersAreSaved(t *testing.T) {
	tests := []struct {
		answer          bridge.ConsentAnswer
		allowed, denied []string
		status          int
	}{
		{bridge.AlwaysAllow, []string{"https://shop.example.com"}, nil, http.StatusSwitchingProtocols},
		{bridge.Deny, nil, []string{"https://shop.example.com"}, http.StatusForbidden},
		{bridge.AllowOnce, nil, nil, http.StatusSwitchingProtocols},
	}
	for _, tt := range tests {
		t.Run(tt.answer.String(), func(t *testing.T) {
			in := startInstance(t)
			in.SetConsent(prompt(tt.answer))
			if s := connect(t, in, "https://shop.example.com"); s != tt.status {
				t.Fatalf("status %d, want %d", s, tt.status)
			}
			cfg := in.RunningConfig()
			if !slices.Equal(cfg.AllowedOrigins, tt.allowed) || !slices.Equal(cfg.DeniedOrigins, tt.denied) {
				t.Fatalf("config allowed %v denied %v", cfg.AllowedOrigins, cfg.DeniedOrigins)
			}
			if tt.allowed != nil || tt.denied != nil {
				saved, err := config.Load(in.ConfigPath())
				if err != nil || !slices.Equal(saved.AllowedOrigins, tt.allowed) || !slices.Equal(saved.DeniedOrigins, tt.denied) {
					t.Fatalf("file: allowed %v denied %v, %v", saved.AllowedOrigins, saved.DeniedOrigins, err)
				}
			}
			// Saved answers hold without asking again.
			in.SetConsent(prompt(bridge.NoAnswer))
			if s := connect(t, in, "https://shop.example.com"); s != tt.status {
				t.Fatalf("second attempt: status %d, want %d", s, tt.status)
			}
		})
	}
}

func TestSubscribeEndsWithContext(t *testing.T) {
	in := startInstance(t)
	ctx, cancel := context.WithCancel(context.Background())
	events := in.Subscribe(ctx, 16)
	in.Bridge.Logger().Info("ping")
	if ev := <-events; ev.Kind != bridge.LogRecord {
		t.Fatalf("event %v", ev.Kind)
	}
	cancel()
	for range events { // drains, then ends: the channel was closed
	}
}

func TestCertificateReportAndTrust(t *testing.T) {
	testutil.SetHome(t)
	in := startInstance(t)
	r, _ := in.Certificate(context.Background())
	if r.Trusted || r.Err != nil || len(r.Stores) == 0 || r.Status.CAFingerprint == "" {
		t.Fatalf("report %+v", r)
	}
	if _, err := exec.LookPath("certutil"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("certutil not found: install libnss3-tools")
		}
		t.Skip("certutil not found: install libnss3-tools")
	}
	if _, err := in.TrustCertificate(); err != nil {
		t.Fatal(err)
	}
	if r, _ := in.Certificate(context.Background()); !r.Trusted {
		t.Fatalf("after TrustCertificate: %+v", r.Stores)
	}
	if in.LogDir() != filepath.Join(in.RunningConfig().DataDir, "logs") {
		t.Fatalf("log dir %s", in.LogDir())
	}
}

func contextWithCancel() (context.Context, context.CancelFunc) {
	return context.WithCancel(context.Background())
}
