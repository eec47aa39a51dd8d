package app

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"orionbridge/config"
	"orionbridge/config/configtest"
	"orionbridge/internal/testutil"
	"os"
	"slices"
	"strings"
	"testing"
)

func TestManagedConfigOverridesKeyByKey(t *testing.T) {
	testutil.SetHome(t)
	managed := configtest.UseManagedConfig(t, "allowed_origins = [\"https://shop.example.com\"]\nmax_clients = 5\n")
	user := testutil.TempFile(t, "user.toml", "port = 31000\nmax_clients = 50\nallowed_origins = [\"https://mine.example.com\"]\n")
	cfg, sources, err := config.LoadSources(user)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Port != 31000 || cfg.MaxClients != 5 || !slices.Equal(cfg.AllowedOrigins, []string{"https://shop.example.com"}) {
		t.Fatalf("merged %+v", cfg)
	}
	want := map[string]string{"port": user, "max_clients": managed, "allowed_origins": managed}
	for k, v := range want {
		if sources[k] != v {
			t.Errorf("source of %s = %q, want %q", k, sources[k], v)
		}
	}
	var out bytes.Buffer
	config.WriteShow(&out, cfg, sources)
	for _, line := range []string{"max_clients          = 5", "# " + managed, "port                 = 31000", "pong_timeout         = 1m0s", "# default"} {
		if !strings.Contains(out.String(), line) {
			t.Errorf("config show lacks %q:\n%s", line, out.String())
		}
	}

	// An error in the managed file names the managed file.
	testutil.WriteFile(t, managed, "\nmax_clients = 0\n")
	_, err = config.Load(user)
	var ce *config.Error
	if !errors.As(err, &ce) || ce.File != managed || ce.Line != 2 || ce.Key != "max_clients" {
		t.Fatalf("bad managed file: %v", err)
	}
}

func TestApplyConfigRespectsManagedKeys(t *testing.T) {
	testutil.SetHome(t)
	configtest.UseManagedConfig(t, "max_clients = 5\n")
	in := startInstance(t)
	user := in.ConfigPath()
	// The instance's own port: a reload onto the default 21443 would test
	// whatever else holds that port.
	port := in.RunningConfig().Port
	testutil.WriteFile(t, user, fmt.Sprintf("port = %d\nfallback_ports = []\nmax_clients = 50\nmax_message_bytes = 1000\n", port))
	if err := in.Reload(); err != nil {
		t.Fatal(err)
	}
	if got := in.Info().ManagedKeys; !slices.Equal(got, []string{"max_clients"}) {
		t.Fatalf("managed keys %v", got)
	}
	cfg := in.RunningConfig()
	if cfg.MaxClients != 5 || cfg.MaxMessageBytes != 1000 {
		t.Fatalf("config in force %+v", cfg)
	}
	cfg.MaxClients = 9
	var ce *config.Error
	if err := in.ApplyConfig(cfg); !errors.As(err, &ce) || ce.Key != "max_clients" || !strings.Contains(err.Error(), "machine-wide") {
		t.Fatalf("changing a managed key: %v", err)
	}
	cfg.MaxClients = 5
	cfg.MaxMessageBytes = 2000
	if err := in.ApplyConfig(cfg); err != nil {
		t.Fatal(err)
	}
	// The user file keeps the user's own value for the managed key.
	data, _ := os.ReadFile(user)
	if !strings.Contains(string(data), "max_clients = 50") || !strings.Contains(string(data), "max_message_bytes = 2000") {
		t.Fatalf("user file:\n%s", data)
	}
}

// An edit of the config file is applied while running, without dropping
// open sessions.
func TestConfigEditAppliedLive(t *testing.T) {
	testutil.SetHome(t)
	configtest.UseManagedConfig(t, "")
	in := startInstance(t)
	cfg := in.RunningConfig()
	cfg.AllowedOrigins = []string{"https://editor.example.com"}
	if err := in.ApplyConfig(cfg); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := contextWithCancel()
	done := make(chan struct{})
	go func() { defer close(done); in.watchConfig(ctx) }()
	defer func() { cancel(); <-done }()

	ws := dialSession(t, in, "https://editor.example.com")
	edited := cfg
	edited.AllowedOrigins = append(edited.AllowedOrigins, "https://shop.example.com")
	if err := config.Save(in.ConfigPath(), edited); err != nil { // as an editor would
		t.Fatal(err)
	}
	testutil.WaitFor(t, "the edit to apply", func() bool { return connect(t, in, "https://shop.example.com") == http.StatusSwitchingProtocols })
	ws.WriteMessage(1, []byte("still here"))
	if _, p, err := ws.ReadMessage(); err != nil || string(p) != "still here" {
		t.Fatalf("the open session after the edit: %q %v", p, err)
	}
	// A broken edit is refused and the running config stays.
	testutil.WriteFile(t, in.ConfigPath(), "port = \"oops\"\n")
	testutil.WaitFor(t, "the broken edit to be seen", func() bool { return in.configStamps() == in.seenStampsNow() })
	if connect(t, in, "https://shop.example.com") != http.StatusSwitchingProtocols {
		t.Fatal("a broken edit changed the running config")
	}
}
