// Package apptest starts real Orion Bridge instances for the tests of the
// packages above app (cli, tray): a free port, a temporary data dir and
// config file, and an echo engine.
package apptest

import (
	"log/slog"
	"path/filepath"
	"testing"

	"orionbridge/app"
	"orionbridge/config"
	"orionbridge/internal/testutil"
)

// StartInstance builds and starts an Instance on a free port whose one
// route, /ws, relays to an echo engine; edit, when not nil, changes the
// config first. It is stopped when the test ends.
func StartInstance(t testing.TB, edit func(*config.Config)) *app.Instance {
	t.Helper()
	dir := t.TempDir()
	cfg := config.Default()
	cfg.Port, cfg.FallbackPorts, cfg.DataDir = testutil.FreePort(t), nil, dir
	cfg.Routes = []config.Route{{Path: "/ws", Target: testutil.EchoEngine(t), Framing: "raw"}}
	if edit != nil {
		edit(&cfg)
	}
	in, err := app.NewInstance("test", cfg, slog.DiscardHandler)
	if err != nil {
		t.Fatal(err)
	}
	in.SetConfigPath(filepath.Join(dir, "config.toml")) // never the user's own
	if err := in.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = in.Stop() })
	return in
}
