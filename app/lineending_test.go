package app

import (
	"context"
	"errors"
	"testing"

	"orionbridge/bridge"
	"orionbridge/config"
)

// A route's line_ending crosses the control API (as the tray attached to a
// service sends it), is saved, and reaches the bridge: /health reports it.
// A line_ending on a raw route is refused there with the config's error.
func TestLineEndingOverTheControlAPI(t *testing.T) {
	in := startInstance(t)
	r, err := Attach(in.RunningConfig(), in.Bridge.Port())
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx := context.Background()
	cfg, err := r.Config(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Routes[0].Framing, cfg.Routes[0].LineEnding = "lines", "crlf"
	if err := r.ApplyConfig(cfg); err != nil {
		t.Fatalf("apply lines with crlf: %v", err)
	}
	h, err := r.Health(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := h.Routes[0]; got.Framing != bridge.FramingLines || got.LineEnding != bridge.LineEndingCRLF {
		t.Errorf("/health route %+v, want lines with crlf", got)
	}
	saved, err := config.Load(in.Info().ConfigPath)
	if err != nil || saved.Routes[0].LineEnding != "crlf" {
		t.Errorf("saved line_ending %q (%v), want crlf", saved.Routes[0].LineEnding, err)
	}

	cfg.Routes[0].Framing = "raw"
	err = r.ApplyConfig(cfg)
	if ce, ok := errors.AsType[*config.Error](err); !ok || ce.Key != "routes[0].line_ending" {
		t.Errorf("a raw route with crlf: %v, want the config error on routes[0].line_ending", err)
	}
}
