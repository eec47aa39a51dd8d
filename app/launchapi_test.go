package app

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"orionbridge/config"
	"orionbridge/internal/testutil"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestControlAPIRefusesLaunchChanges: whoever holds the control secret
// cannot make the bridge run a program (issue 12, finding 1): a PUT that
// sets launch is refused with 403 naming the config file, nothing is
// launched or saved; the tray's way of saving (the running config sent
// back with other keys changed) still works.
func TestControlAPIRefusesLaunchChanges(t *testing.T) {
	in := startInstance(t)
	r, err := Attach(in.RunningConfig(), in.Bridge.Port())
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	marker := filepath.Join(t.TempDir(), "ran")
	cfg, err := r.Config(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	cfg.Routes[0].Launch = []string{"/bin/sh", "-c", "touch " + marker + "; sleep 600"}
	cfg.Routes[0].LaunchEnv = map[string]string{"X": "y"}
	err = r.ApplyConfig(cfg)
	for _, want := range []string{"403 Forbidden", "routes[0] (/ws): launch, launch_dir and launch_env cannot be changed through the control API", "edit them in " + in.ConfigPath()} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("PUT with launch: %v; want it to contain %q", err, want)
		}
	}
	if got := in.RunningConfig().Routes[0].Launch; got != nil {
		t.Errorf("the running config now launches %q", got)
	}
	if b, err := os.ReadFile(in.ConfigPath()); err == nil && strings.Contains(string(b), "launch") {
		t.Errorf("the refused launch was saved:\n%s", b)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("the program sent through the control API ran")
	}

	// The Settings tab's save: the running config, launch keys as they are.
	if cfg, err = r.Config(context.Background()); err != nil {
		t.Fatal(err)
	}
	cfg.MaxClients = 7
	if err := r.ApplyConfig(cfg); err != nil {
		t.Fatalf("saving other keys with the launch keys unchanged: %v", err)
	}
	if in.RunningConfig().MaxClients != 7 {
		t.Error("max_clients not applied")
	}
}

func TestCheckLaunchUnchanged(t *testing.T) {
	running := config.Default()
	running.Routes = []config.Route{
		{Path: "/ws", Target: "127.0.0.1:21400", Framing: "raw", Launch: []string{"/opt/engine", "--port", "21400"}, LaunchDir: "/opt", LaunchEnv: map[string]string{"LICENSE_KEY": "k"}},
		{Path: "/plain", Target: "127.0.0.1:21401", Framing: "raw"},
	}
	edit := func(f func(c *config.Config)) config.Config {
		c := running
		c.Routes = make([]config.Route, len(running.Routes))
		for i, r := range running.Routes {
			r.Launch = append([]string(nil), r.Launch...)
			if r.LaunchEnv != nil {
				env := map[string]string{}
				for k, v := range r.LaunchEnv {
					env[k] = v
				}
				r.LaunchEnv = env
			}
			c.Routes[i] = r
		}
		f(&c)
		return c
	}
	tests := []struct {
		name    string
		next    config.Config
		refused string // the route named, "" if allowed
	}{
		{"unchanged", edit(func(c *config.Config) {}), ""},
		{"other keys of a launched route", edit(func(c *config.Config) {
			c.Routes[0].Target, c.Routes[0].Framing, c.MaxClients = "127.0.0.1:21409", "lines", 3
		}), ""},
		{"a new route without launch", edit(func(c *config.Config) { c.Routes = append(c.Routes, config.Route{Path: "/new", Target: "127.0.0.1:1"}) }), ""},
		{"routes reordered", edit(func(c *config.Config) { c.Routes[0], c.Routes[1] = c.Routes[1], c.Routes[0] }), ""},
		{"an empty launch_env where there was none", edit(func(c *config.Config) { c.Routes[1].LaunchEnv = map[string]string{} }), ""},
		{"launch argument", edit(func(c *config.Config) { c.Routes[0].Launch[2] = "1" }), "routes[0] (/ws)"},
		{"launch program", edit(func(c *config.Config) { c.Routes[0].Launch[0] = "/tmp/evil" }), "routes[0] (/ws)"},
		{"launch_dir", edit(func(c *config.Config) { c.Routes[0].LaunchDir = "/tmp" }), "routes[0] (/ws)"},
		{"launch_env value", edit(func(c *config.Config) { c.Routes[0].LaunchEnv["LICENSE_KEY"] = "other" }), "routes[0] (/ws)"},
		{"launch_env added", edit(func(c *config.Config) { c.Routes[0].LaunchEnv["LD_PRELOAD"] = "/tmp/x.so" }), "routes[0] (/ws)"},
		{"launch removed", edit(func(c *config.Config) {
			c.Routes[0].Launch, c.Routes[0].LaunchDir, c.Routes[0].LaunchEnv = nil, "", nil
		}), "routes[0] (/ws)"},
		{"launch set on a plain route", edit(func(c *config.Config) { c.Routes[1].Launch = []string{"/bin/sh"} }), "routes[1] (/plain)"},
		{"a new route with launch", edit(func(c *config.Config) {
			c.Routes = append(c.Routes, config.Route{Path: "/new", Target: "127.0.0.1:1", Launch: []string{"/bin/sh"}})
		}), "routes[2] (/new)"},
		{"the launched route removed", edit(func(c *config.Config) { c.Routes = c.Routes[1:] }), "the route /ws"},
		{"the launched route renamed", edit(func(c *config.Config) { c.Routes[0].Path = "/ws2" }), "routes[0] (/ws2)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkLaunchUnchanged(running, tt.next, "/home/u/.config/OrionBridge/config.toml")
			if tt.refused == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var le *launchChangeError
			if !errors.As(err, &le) {
				t.Fatalf("got %v, want a launchChangeError", err)
			}
			for _, want := range []string{tt.refused, "edit them in /home/u/.config/OrionBridge/config.toml"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("%q lacks %q", err, want)
				}
			}
		})
	}
}

// TestLaunchEnvNeverShown: launch_env values and the token appear in no
// support bundle, no `config show` and no log record of a Config (issue
// 12, finding 5).
func TestLaunchEnvNeverShown(t *testing.T) {
	testutil.SetHome(t)
	const licence, token = "lic-9f8e7d6c5b4a3210", "tok-0a1b2c3d4e5f"
	cfg := config.Default()
	cfg.Port, cfg.FallbackPorts, cfg.DataDir, cfg.Token = testutil.FreePort(t), nil, t.TempDir(), token
	cfg.Routes[0].Launch = []string{"/opt/engine/bin/engine", "--port", "21400"}
	cfg.Routes[0].LaunchEnv = map[string]string{"LICENSE_KEY": licence, "MODE": "1"}
	// Not started: as `support-bundle` does with no bridge running, and
	// nothing is launched.
	in, err := NewInstance("test", cfg, slog.DiscardHandler)
	if err != nil {
		t.Fatal(err)
	}
	testutil.WriteFile(t, filepath.Join(in.LogDir(), LogFileName), `{"msg":"engine said: licence lic-9f8e7d6c5b4a3210 accepted"}`+"\n")
	os.Chmod(filepath.Join(in.LogDir(), LogFileName), 0o600)

	var bundle bytes.Buffer
	if err := WriteSupportBundle(context.Background(), &bundle, in); err != nil {
		t.Fatal(err)
	}
	z, err := zip.NewReader(bytes.NewReader(bundle.Bytes()), int64(bundle.Len()))
	if err != nil {
		t.Fatal(err)
	}
	shown := map[string]string{}
	for _, f := range z.File {
		rc, _ := f.Open()
		b, _ := io.ReadAll(rc)
		rc.Close()
		shown["bundle "+f.Name] = string(b)
	}
	if c := shown["bundle config.toml"]; !strings.Contains(c, "LICENSE_KEY = '(redacted)'") || !strings.Contains(c, "MODE = '(redacted)'") {
		t.Errorf("the bundle's config.toml does not name the redacted variables:\n%s", c)
	}
	var show bytes.Buffer
	config.WriteShow(&show, cfg, nil)
	shown["config show"] = show.String()
	if !strings.Contains(show.String(), `routes[0].launch_env.LICENSE_KEY = "(redacted)"`) {
		t.Errorf("config show does not list the variable, redacted:\n%s", show.String())
	}
	var logged bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logged, nil))
	log.Info("config", "config", cfg, "route", cfg.Routes[0])
	shown["log record"] = logged.String()
	if !strings.Contains(logged.String(), "LICENSE_KEY") {
		t.Errorf("the log record lost the variable's name: %s", logged.String())
	}
	for where, text := range shown {
		for _, secret := range []string{licence, token} {
			if strings.Contains(text, secret) {
				t.Errorf("%s holds %q:\n%s", where, secret, text)
			}
		}
	}
	if cfg.Routes[0].LaunchEnv["LICENSE_KEY"] != licence || cfg.Token != token {
		t.Error("redacting changed the config itself")
	}
}
