package app

import (
	"bytes"
	"encoding/json"
	"orionbridge/config"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// The seed corpora run in every `go test`; `make fuzz` explores further.

// roundTrip checks that a valid config survives being saved as a file
// (what ApplyConfig does) and read back: a config the bridge accepts must
// not produce a file it refuses at the next start.
func roundTrip(t *testing.T, cfg config.Config) {
	t.Helper()
	cfg.Normalize()
	data, err := config.Marshal(cfg)
	if err != nil {
		t.Fatalf("a valid config does not marshal: %v", err)
	}
	back, err := config.Parse("saved.toml", data)
	if err != nil {
		t.Fatalf("a valid config, saved, does not parse back: %v\n%s", err, data)
	}
	if !reflect.DeepEqual(comparable(back), comparable(cfg)) {
		t.Fatalf("saved and read back, the config changed:\n got %+v\nwant %+v\n%s", back, cfg, data)
	}
}

// comparable drops what a file legitimately changes: nil and empty lists
// and maps are the same config.
func comparable(c config.Config) config.Config {
	norm := func(s []string) []string {
		if len(s) == 0 {
			return nil
		}
		return s
	}
	c.AllowedOrigins, c.DeniedOrigins = norm(c.AllowedOrigins), norm(c.DeniedOrigins)
	if len(c.FallbackPorts) == 0 {
		c.FallbackPorts = nil
	}
	routes := make([]config.Route, len(c.Routes))
	for i, r := range c.Routes {
		if len(r.LaunchEnv) == 0 {
			r.LaunchEnv = nil
		}
		routes[i] = r
	}
	c.Routes = routes
	return c
}

// checkRedacted: no secret value survives Redacted.
func checkRedacted(t *testing.T, cfg config.Config) {
	t.Helper()
	shown, _ := json.Marshal(cfg.Redacted())
	for _, s := range cfg.SecretValues() {
		if s != config.RedactedText && bytes.Contains(shown, []byte(s)) && !strings.Contains(config.RedactedText, s) && !strings.Contains(string(shownWithout(cfg)), s) {
			t.Fatalf("the redacted config shows the secret %q: %s", s, shown)
		}
	}
}

// shownWithout is the config with no secrets at all: a secret value that
// also appears elsewhere in it (a port, a path) is not a leak.
func shownWithout(cfg config.Config) []byte {
	cfg.Token = ""
	cfg.Routes = append([]config.Route(nil), cfg.Routes...)
	for i := range cfg.Routes {
		cfg.Routes[i].LaunchEnv = nil
	}
	b, _ := json.Marshal(cfg)
	return b
}

// FuzzControlConfigJSON fuzzes the body of PUT /api/config: decoding and
// validation (decodeControlConfig), the launch check and the save.
func FuzzControlConfigJSON(f *testing.F) {
	def := config.Default()
	def.DataDir = "/home/u/.local/share/OrionBridge"
	seed := func(c config.Config) {
		b, _ := json.Marshal(c)
		f.Add(b)
	}
	seed(def)
	withLaunch := def
	withLaunch.Token = "a-token-value"
	withLaunch.Routes = []config.Route{{Path: "/ws", Target: "127.0.0.1:21400", Framing: "lines",
		Launch: []string{"/opt/engine", "--port", "21400"}, LaunchDir: "/opt", LaunchEnv: map[string]string{"LICENSE_KEY": "abcdef123456"}}}
	seed(withLaunch)
	for _, s := range []string{``, `{}`, `null`, `[]`, `{"Port": 99999}`, `{"Port": 21443, "Routes": null}`,
		`{"Port":21443,"MaxClients":1,"MaxMessageBytes":1,"PingInterval":1,"PongTimeout":2,"Routes":[{"Path":"/","Target":"127.0.0.1:1","LaunchEnv":{"A":"b"}}]}`,
		`{"Port":21443,"MaxClients":1,"MaxMessageBytes":1,"PingInterval":1,"PongTimeout":2,"Routes":[{"Path":"/","Target":"[::1]:1","Launch":["x\u0000"]}]}`,
		`{"Port": 21443, "AllowedOrigins": ["https://*.example.com", "http://LOCALHOST:8080"]}`,
		`{"Port": "21443"}`, `{"Routes": [{"Path": 1}]}`, `{"Port":1e309}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		cfg, err := decodeControlConfig(bytes.NewReader(body))
		if err != nil {
			return
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("decodeControlConfig accepted an invalid config: %v", err)
		}
		// Against the defaults: only a config without launch keys passes.
		err = checkLaunchUnchanged(def, cfg, "config.toml")
		hasLaunch := false
		for _, r := range cfg.Routes {
			hasLaunch = hasLaunch || r.Launch != nil || r.LaunchDir != "" || len(r.LaunchEnv) > 0
		}
		if (err == nil) == hasLaunch {
			t.Fatalf("launch keys %v, launch check %v", hasLaunch, err)
		}
		checkRedacted(t, cfg)
		roundTrip(t, cfg)
	})
}

// FuzzParseConfig fuzzes the config file parser: no panic, an accepted
// file is valid, and it survives a save.
func FuzzParseConfig(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "config", "*.toml"))
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	for _, s := range []string{
		"",
		"port = 21443\n",
		"\uFEFFport = 21443\n",
		"port = 21443\nfallback_ports = [21444, 21444]\n",
		"ping_interval = \"30s\"\npong_timeout = \"1m\"\n",
		"ping_interval = 30\n",
		"allowed_origins = [\"https://app.example.com\", \"https://*.example.com\"]\n",
		"[routes]\npath = \"/ws\"\n",
		"[[routes]]\npath = \"/ws\"\ntarget = \"127.0.0.1:21400\"\nframing = \"lines\"\nlaunch = [\"/opt/engine\", \"--port\", \"21400\"]\nlaunch_dir = \"/opt\"\nlaunch_env = { LICENSE_KEY = \"abcdef123456\" }\n",
		"[[routes]]\npath = \"/a\"\ntarget = \"127.0.0.1:1\"\n[[routes]]\npath = \"/a\"\ntarget = \"127.0.0.1:2\"\n",
		"[[routes]]\npath = \"/a\"\ntarget = \"127.0.0.1:1\"\n[routes.launch_env]\nA = 1\n",
		"port.x = 1\n",
		"token = \"\"\"\nmulti\nline\"\"\"\n",
		"unknown = 1\n",
		"port = 0x5FFF\n",
		"max_message_bytes = 1073741825\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := config.Parse("fuzz.toml", data)
		if err != nil {
			if _, ok := err.(*config.Error); !ok {
				t.Fatalf("ParseConfig error %T, want *ConfigError: %v", err, err)
			}
			return
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("ParseConfig accepted an invalid config: %v", err)
		}
		checkRedacted(t, cfg)
		roundTrip(t, cfg)
	})
}
