package config

import (
	"errors"
	"fmt"
	"io/fs"
	"orionbridge/internal/testutil"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

func exampleConfig() Config {
	return Config{
		Port:              21443,
		FallbackPorts:     []int{21444, 21445, 21446},
		DataDir:           "/var/tmp/orionbridge-test",
		AllowedOrigins:    []string{"https://editor.example.com", "https://*.example.com"},
		Token:             "",
		MaxClients:        100,
		MaxMessageBytes:   16777216,
		PingInterval:      30 * time.Second,
		PongTimeout:       60 * time.Second,
		AskUnknownOrigins: true,
		PortRange:         []int{21443, 21542},
		Routes:            []Route{{Path: "/ws", Target: "127.0.0.1:21400", Framing: "raw"}},
	}
}

func TestParseConfigAccepts(t *testing.T) {
	example, err := os.ReadFile("testdata/config/example.toml")
	if err != nil {
		t.Fatal(err)
	}
	withDefaults := func(edit func(*Config)) Config {
		c := Default()
		edit(&c)
		return c
	}
	tests := []struct {
		name string
		toml string
		want Config
	}{
		{"example", string(example), exampleConfig()},
		{"empty file", "", Default()},
		{"comments only", "# nothing here\n", Default()},
		{"byte order mark", "\uFEFFport = 21500\r\n", withDefaults(func(c *Config) { c.Port = 21500 })},
		{
			"routes replace the default route; empty framing means raw",
			"[[routes]]\npath = \"/a\"\ntarget = \"localhost:1\"\n\n[[routes]]\npath = \"/b\"\ntarget = \"[::1]:2\"\nframing = \"length-prefixed\"\n",
			withDefaults(func(c *Config) {
				c.Routes = []Route{{Path: "/a", Target: "localhost:1", Framing: "raw"}, {Path: "/b", Target: "[::1]:2", Framing: "length-prefixed"}}
			}),
		},
		{
			"inline routes",
			`routes = [{path = "/x", target = "engine.local:9000", framing = "lines"}]`,
			withDefaults(func(c *Config) { c.Routes = []Route{{Path: "/x", Target: "engine.local:9000", Framing: "lines"}} }),
		},
		{
			"origins are lower-cased and lose default ports",
			`allowed_origins = ["HTTPS://Editor.Example.COM:443", "http://LOCALHOST:3000", "HTTP://*.Example.com:80"]`,
			withDefaults(func(c *Config) {
				c.AllowedOrigins = []string{"https://editor.example.com", "http://localhost:3000", "http://*.example.com"}
			}),
		},
		{
			"empty fallback_ports, durations, certificate pair",
			"fallback_ports = []\nping_interval = \"1m30s\"\npong_timeout = \"2m\"\ncert_file = \"c.pem\"\nkey_file = \"k.pem\"\n",
			withDefaults(func(c *Config) {
				c.FallbackPorts = []int{}
				c.PingInterval, c.PongTimeout = 90*time.Second, 2*time.Minute
				c.CertFile, c.KeyFile = "c.pem", "k.pem"
			}),
		},
		{"largest message size", "max_message_bytes = 1073741824", withDefaults(func(c *Config) { c.MaxMessageBytes = 1 << 30 })},
		{
			"managed engine",
			"[[routes]]\npath = \"/ws\"\ntarget = \"127.0.0.1:21400\"\nlaunch = [\"/opt/orion/engine\", \"--port\", \"21400\"]\n" +
				"launch_dir = \"/var/lib/orion\"\nlaunch_env = { ORION_LICENSE = \"abc\", LANG = \"C\" }\n",
			withDefaults(func(c *Config) {
				c.Routes = []Route{{Path: "/ws", Target: "127.0.0.1:21400", Framing: "raw", Launch: []string{"/opt/orion/engine", "--port", "21400"},
					LaunchDir: "/var/lib/orion", LaunchEnv: map[string]string{"ORION_LICENSE": "abc", "LANG": "C"}}}
			}),
		},
		{
			"launch_env as a sub-table",
			"[[routes]]\npath = \"/ws\"\ntarget = \"127.0.0.1:1\"\nlaunch = [\"engine\"]\n[routes.launch_env]\nA = \"1\"\n",
			withDefaults(func(c *Config) {
				c.Routes = []Route{{Path: "/ws", Target: "127.0.0.1:1", Framing: "raw", Launch: []string{"engine"}, LaunchEnv: map[string]string{"A": "1"}}}
			}),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse("x.toml", []byte(tt.toml))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestParseConfigRejects(t *testing.T) {
	const route = "[[routes]]\npath = \"/a\"\ntarget = \"h:1\"\n"
	const twoRoutes = "[[routes]]\npath = \"/a\"\ntarget = \"127.0.0.1:1\"\n\n[[routes]]\n"
	tests := []struct {
		name string
		toml string
		line int // 0: the file has no line for the key
		key  string
		want string // in the message, after the key
	}{
		// Unknown keys, TOML errors, type errors.
		{"unknown key", "port = 1\n\nalowed_origins = []\n", 3, "alowed_origins",
			`unknown key "alowed_origins" (known keys: port, fallback_ports, data_dir, allowed_origins, token, max_clients, max_message_bytes, ping_interval, pong_timeout, cert_file, key_file, ask_unknown_origins, denied_origins, port_range, allow_other_users, language, routes)`},
		{"unknown route key", "[[routes]]\npath = \"/a\"\ntarget = \"h:1\"\nframng = \"raw\"\n", 4, "routes[0].framng",
			`unknown key "routes[0].framng" (known keys: path, target, framing, line_ending, launch, launch_dir, launch_env)`},
		{"unknown key in inline route", `routes = [{path = "/a", target = "h:1"}, {path = "/b", target = "h:2", bogus = 1}]`, 1, "routes[1].bogus",
			`unknown key "routes[1].bogus"`},
		{"unknown table", "port = 1\n[server]\nport = 2\n", 2, "server", `unknown key "server" (known keys: port,`},
		{"unknown array table", "[[server]]\n", 1, "server", `unknown key "server" (known keys: port,`},
		{"unknown dotted key", "a.b.c = 1", 1, "a.b.c", `unknown key "a.b.c" (known keys: port,`},
		{"unknown route subtable", "[[routes]]\npath = \"/a\"\ntarget = \"h:1\"\n[routes.extra]\nx = 1\n", 4, "routes[0].extra",
			`unknown key "routes[0].extra" (known keys: path, target, framing, line_ending, launch, launch_dir, launch_env)`},
		{"unknown dotted route key", "[[routes]]\npath = \"/a\"\ntarget = \"h:1\"\nx.y = 1\n", 4, "routes[0].x.y", `unknown key "routes[0].x.y"`},
		{"syntax error", "port = 1\nmax_clients = \n", 2, "", "invalid TOML: "},
		{"duplicate key", "port = 1\nport = 2\n", 2, "port", "invalid TOML: "},
		{"port as string", `port = "21443"`, 1, "port", "expected a port number 1-65535, got a string"},
		{"port as float", "port = 1.5", 1, "port", "expected a port number 1-65535, got a float"},
		{"port as array", "port = [1]", 1, "port", "expected a port number 1-65535, got an array"},
		{"port as table", "[port]\nx = 1\n", 1, "port", "expected a port number 1-65535, got a table"},
		{"port as dotted key", "port.x = 1", 1, "port", "expected a port number 1-65535, got a table"},
		{"port as array table", "[[port]]\n", 1, "port", "expected a port number 1-65535, got an array of tables"},
		{"port too large for TOML", "port = 99999999999999999999", 1, "port", "invalid TOML: "},
		{"routes as one table", "[routes]\npath = \"/a\"\ntarget = \"h:1\"\n", 1, "routes", "expected [[routes]] tables (double brackets), got [routes]"},
		{"routes as inline table", `routes = {path = "/a", target = "h:1"}`, 1, "routes", "expected at least one [[routes]] table, got a table"},
		{"fallback_ports as integer", "fallback_ports = 21444", 1, "fallback_ports", "expected an array of port numbers, got an integer"},
		{"fallback port as string", "fallback_ports = [\n  21444,\n  \"21445\",\n]\n", 3, "fallback_ports[1]", "expected a port number 1-65535, got a string"},
		{"allowed_origins as string", `allowed_origins = "https://a.com"`, 1, "allowed_origins", "expected an array of origins, got a string"},
		{"duration as integer", "ping_interval = 30", 1, "ping_interval", `expected a positive duration like "30s", got an integer`},
		{"routes as integer", "routes = 3", 1, "routes", "expected at least one [[routes]] table, got an integer"},
		{"route path as integer", `routes = [{path = 1, target = "h:1"}]`, 1, "routes[0].path", `expected a URL path starting with "/", got an integer`},
		{"token as integer", "token = 12345", 1, "token", "expected a string, got an integer"},

		// Bad values.
		{"port too large", "# comment\n\nport = 70000\n", 3, "port", "expected a port number 1-65535, got 70000"},
		{"port zero", "port = 0", 1, "port", "expected a port number 1-65535, got 0"},
		{"CRLF line ends", "token = \"\"\r\nport = 0\r\n", 2, "port", "expected a port number 1-65535, got 0"},
		{"port negative", "port = -1", 1, "port", "expected a port number 1-65535, got -1"},
		{"fallback port zero", "fallback_ports = [21444, 0]", 1, "fallback_ports[1]", "expected a port number 1-65535, got 0"},
		{"fallback port too large", "fallback_ports = [65536]", 1, "fallback_ports[0]", "expected a port number 1-65535, got 65536"},
		{"fallback port equals port", "fallback_ports = [21500, 21443]", 1, "fallback_ports[1]", "port 21443 is listed twice"},
		{"fallback port twice", "fallback_ports = [\n  21500,\n  21500,\n]\n", 3, "fallback_ports[1]", "port 21500 is listed twice"},
		{"port among default fallbacks", "port = 21445", 0, "fallback_ports[1]", "port 21445 is listed twice"},
		{"framing", twoRoutes + "path = \"/b\"\ntarget = \"127.0.0.1:2\"\nframing = \"json\"\n", 8, "routes[1].framing",
			`expected raw, lines or length-prefixed, got "json"`},
		{"framing upper case", "[[routes]]\npath = \"/a\"\ntarget = \"h:1\"\nframing = \"RAW\"\n", 4, "routes[0].framing", `got "RAW"`},
		{"route path without slash", "[[routes]]\npath = \"ws\"\ntarget = \"h:1\"\n", 2, "routes[0].path", `expected a URL path starting with "/", got "ws"`},
		{"route without path", "[[routes]]\ntarget = \"h:1\"\n", 1, "routes[0].path", `expected a URL path starting with "/", got ""`},
		{"duplicate route path", twoRoutes + "path = \"/a\"\ntarget = \"127.0.0.1:2\"\n", 6, "routes[1].path", `duplicate route path "/a", also in routes[0]`},
		{"route without target", `routes = [{path = "/a"}]`, 1, "routes[0].target", `expected "host:port" with a port number 1-65535, got ""`},
		{"target without port", `routes = [{path = "/a", target = "127.0.0.1"}]`, 1, "routes[0].target", `got "127.0.0.1"`},
		{"target port zero", `routes = [{path = "/a", target = "127.0.0.1:0"}]`, 1, "routes[0].target", `got "127.0.0.1:0"`},
		{"target port too large", `routes = [{path = "/a", target = "localhost:70000"}]`, 1, "routes[0].target", `got "localhost:70000"`},
		{"target port by name", `routes = [{path = "/a", target = "localhost:http"}]`, 1, "routes[0].target", `got "localhost:http"`},
		{"target without host", `routes = [{path = "/a", target = ":21400"}]`, 1, "routes[0].target", `got ":21400"`},
		{"target URL", `routes = [{path = "/a", target = "tcp://h:1"}]`, 1, "routes[0].target", `got "tcp://h:1"`},
		{"no routes", "port = 1\nroutes = []\n", 2, "routes", "expected at least one [[routes]] table, got none"},
		{"max_clients zero", "max_clients = 0", 1, "max_clients", "expected an integer >= 1, got 0"},
		{"max_clients negative", "max_clients = -3", 1, "max_clients", "expected an integer >= 1, got -3"},
		{"max_message_bytes zero", "max_message_bytes = 0", 1, "max_message_bytes", "expected an integer 1-1073741824, got 0"},
		{"max_message_bytes too large", "max_message_bytes = 1073741825", 1, "max_message_bytes", "expected an integer 1-1073741824, got 1073741825"},
		{"ping_interval not a duration", "ping_interval = \"30\"", 1, "ping_interval", `expected a positive duration like "30s", got "30"`},
		{"ping_interval negative", "ping_interval = \"-5s\"", 1, "ping_interval", `expected a positive duration like "30s", got -5s`},
		{"pong_timeout zero", "pong_timeout = \"0s\"", 1, "pong_timeout", `expected a positive duration like "60s", got 0s`},
		{"pong_timeout not a duration", "pong_timeout = \"soon\"", 1, "pong_timeout", `got "soon"`},
		{"pong_timeout equal to ping_interval", "ping_interval = \"1m\"\npong_timeout = \"60s\"\n", 2, "pong_timeout", "expected more than ping_interval (1m0s), got 1m0s"},
		{"pong_timeout below default ping_interval", "pong_timeout = \"10s\"", 1, "pong_timeout", "expected more than ping_interval (30s), got 10s"},
		{"ping_interval above default pong_timeout", "ping_interval = \"2m\"", 0, "pong_timeout", "expected more than ping_interval (2m0s), got 1m0s"},
		{"cert_file without key_file", "cert_file = \"c.pem\"", 1, "cert_file", "key_file must be set too"},
		{"key_file without cert_file", "key_file = \"k.pem\"", 1, "key_file", "cert_file must be set too"},

		// Managed engines.
		{"launch empty", route + "launch = []\n", 4, "routes[0].launch", `expected a non-empty array like ["/path/to/engine", "--port", "21400"], got []`},
		{"launch program empty", route + "launch = [\"\", \"--port\"]\n", 4, "routes[0].launch[0]", `expected the engine's program (a path, or a name found in PATH), got ""`},
		{"launch as string", route + "launch = \"/opt/engine --port 1\"\n", 4, "routes[0].launch", `expected a non-empty array like ["/path/to/engine", "--port", "21400"], got a string`},
		{"launch argument as integer", route + "launch = [\"/opt/engine\", \"--port\",\n  21400]\n", 5, "routes[0].launch[2]", "expected the engine's program path or arguments, as strings, got an integer"},
		{"launch_dir without launch", route + "launch_dir = \"/tmp\"\n", 4, "routes[0].launch_dir", "launch must be set too"},
		{"launch_env without launch", route + "launch_env = { A = \"1\" }\n", 4, "routes[0].launch_env", "launch must be set too"},
		{"launch_env as array", route + "launch = [\"e\"]\nlaunch_env = [\"A=1\"]\n", 5, "routes[0].launch_env", `expected a table of strings like { NAME = "value" }, got an array`},
		{"launch_env value as integer", route + "launch = [\"e\"]\nlaunch_env = { A = \"1\", B = 2 }\n", 5, "routes[0].launch_env.B", "expected a string, got an integer"},
		{"launch_env name with =", route + "launch = [\"e\"]\nlaunch_env = { \"A=B\" = \"1\" }\n", 5, "routes[0].launch_env", `expected environment variable names without "=", got "A=B"`},
		{"launch_dir as integer", route + "launch = [\"e\"]\nlaunch_dir = 1\n", 5, "routes[0].launch_dir", "expected a directory path, got an integer"},
		{"two engines on one target", route + "launch = [\"e\"]\n\n[[routes]]\npath = \"/b\"\ntarget = \"h:1\"\nlaunch = [\"f\"]\n", 9, "routes[1].launch",
			`routes[0] already launches an engine for target "h:1"`},
	}
	// The origin rules themselves are tested with bridge.ParseOrigin.
	for _, o := range []string{"https://editor.example.com/", "ftp://x.example.com", "https://a.*.example.com"} {
		tests = append(tests, struct {
			name, toml string
			line       int
			key, want  string
		}{"origin " + o, "allowed_origins = [\"https://ok.example.com\",\n  " + strconv.Quote(o) + "]", 2, "allowed_origins[1]",
			`expected an origin like "https://app.example.com" or "https://*.example.com" (scheme http or https, no path), got ` + strconv.Quote(o)})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			const file = "/etc/x.toml"
			c, err := Parse(file, []byte(tt.toml))
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("got %+v, %v; want a *Error", c, err)
			}
			if ce.File != file || ce.Line != tt.line || ce.Key != tt.key {
				t.Errorf("got File %q, Line %d, Key %q; want %q, %d, %q", ce.File, ce.Line, ce.Key, file, tt.line, tt.key)
			}
			msg := err.Error()
			prefix := "config " + file + ": "
			if tt.line > 0 {
				prefix += fmt.Sprintf("line %d: ", tt.line)
			}
			if !strings.HasPrefix(msg, prefix) || tt.key != "" && !strings.Contains(msg, strconv.Quote(tt.key)) || !strings.Contains(msg, tt.want) {
				t.Errorf("message %q\nwant prefix %q, key %q and %q", msg, prefix, tt.key, tt.want)
			}
		})
	}
}

func TestErrorMessages(t *testing.T) {
	tests := []struct{ toml, want string }{
		{"\n\nport = 70000", `config /etc/x.toml: line 3: key "port": expected a port number 1-65535, got 70000`},
		{"\n\n\n\n\n\nalowed_origins = []", `config /etc/x.toml: line 7: unknown key "alowed_origins" (known keys: port, fallback_ports, data_dir, allowed_origins, token, max_clients, max_message_bytes, ping_interval, pong_timeout, cert_file, key_file, ask_unknown_origins, denied_origins, port_range, allow_other_users, language, routes)`},
		{`routes = [{path = "/a", target = "h:1"}, {path = "/b", target = "h:2", framing = "json"}]`, `config /etc/x.toml: line 1: key "routes[1].framing": expected raw, lines or length-prefixed, got "json"`},
	}
	for _, tt := range tests {
		if _, err := Parse("/etc/x.toml", []byte(tt.toml)); err == nil || err.Error() != tt.want {
			t.Errorf("got  %v\nwant %s", err, tt.want)
		}
	}
}

func TestErrorsNeverShowToken(t *testing.T) {
	for _, doc := range []string{
		"token = \"s3cret\"\nport = 0\n",
		"token = \"s3cret\nport = 1\n",
		"token = \"s3cret\\q\"\n",
		"token = 's3cret' 'more'\n",
		"token = [\"s3cret\"]\n",
	} {
		_, err := Parse("x.toml", []byte(doc))
		if err == nil || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("Parse(%q) = %v; want an error without the token", doc, err)
		}
	}
}

func TestValidate(t *testing.T) {
	if err := Default().Validate(); err != nil {
		t.Errorf("Default().Validate() = %v", err)
	}
	c := exampleConfig()
	c.AllowedOrigins = []string{"HTTPS://Editor.Example.com"}
	c.Routes[0].Framing = ""
	if err := c.Validate(); err != nil {
		t.Errorf("Validate() = %v; want mixed-case origins and empty framing accepted", err)
	}
	c.Routes = append(c.Routes, Route{Path: "/ws", Target: "h:1"})
	want := `config: key "routes[1].path": duplicate route path "/ws", also in routes[0]`
	if err := c.Validate(); err == nil || err.Error() != want {
		t.Errorf("Validate() = %v; want %s", err, want)
	}
}

// A new Config or Route field needs words for its error messages.
func TestEveryKeyHasAnExpectation(t *testing.T) {
	for prefix, typ := range map[string]reflect.Type{"": reflect.TypeFor[Config](), "routes[].": reflect.TypeFor[Route]()} {
		for f := range typ.Fields() {
			name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
			if key := prefix + name; expectation(key) == "a valid value" {
				t.Errorf("no expectation for %q", key)
			}
		}
	}
}

func TestLoadConfigDefaultMissing(t *testing.T) {
	home, configHome, dataHome := testutil.SetHome(t)
	if p, err := DefaultPath(); err != nil || p != filepath.Join(configHome, "OrionBridge", "config.toml") {
		t.Errorf("DefaultPath() = %q, %v", p, err)
	}
	want := Default()
	want.DataDir = filepath.Join(dataHome, "OrionBridge")
	if got, err := Load(""); err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("Load(\"\") = %+v, %v\nwant %+v", got, err, want)
	}

	// Unset and relative XDG_DATA_HOME both mean ~/.local/share.
	want.DataDir = filepath.Join(home, ".local", "share", "OrionBridge")
	for _, v := range []string{"", "relative/dir"} {
		t.Setenv("XDG_DATA_HOME", v)
		if got, err := Load(""); err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("XDG_DATA_HOME=%q: Load(\"\") = %+v, %v\nwant %+v", v, got, err, want)
		}
	}
}

func TestLoadConfigDefaultPresent(t *testing.T) {
	_, configHome, dataHome := testutil.SetHome(t)
	dir := filepath.Join(configHome, "OrionBridge")
	testutil.WriteFile(t, filepath.Join(dir, "config.toml"), "port = 30000\n")
	want := Default()
	want.Port = 30000
	want.DataDir = filepath.Join(dataHome, "OrionBridge")
	if got, err := Load(""); err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("Load(\"\") = %+v, %v\nwant %+v", got, err, want)
	}

	testutil.WriteFile(t, filepath.Join(dir, "config.toml"), "port = 0\n")
	if _, err := Load(""); err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "config.toml")+": line 1: ") {
		t.Errorf("Load(\"\") = %v; want an error naming the default file", err)
	}
}

func TestLoadConfigFile(t *testing.T) {
	home, _, _ := testutil.SetHome(t)
	got, err := Load("testdata/config/example.toml")
	if err != nil || !reflect.DeepEqual(got, exampleConfig()) {
		t.Errorf("Load(example) = %+v, %v\nwant %+v", got, err, exampleConfig())
	}

	dir := t.TempDir()
	for dataDir, want := range map[string]string{
		"data":           filepath.Join(dir, "data"),
		"../x/../shared": filepath.Join(filepath.Dir(dir), "shared"),
		"~":              home,
		"~/orion":        filepath.Join(home, "orion"),
		"/abs/./dir":     "/abs/dir",
	} {
		path := filepath.Join(dir, "c.toml")
		testutil.WriteFile(t, path, "data_dir = "+strconv.Quote(dataDir))
		if got, err := Load(path); err != nil || got.DataDir != want {
			t.Errorf("data_dir %q: got %q, %v; want %q", dataDir, got.DataDir, err, want)
		}
	}
}

func TestLoadConfigMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nope.toml")
	_, err := Load(path)
	var ce *Error
	if !errors.As(err, &ce) || ce.File != path || !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Load(missing) = %v; want a *Error for %s wrapping fs.ErrNotExist", err, path)
	}
	if want := "config " + path + ": no such file or directory"; runtime.GOOS != "windows" && err.Error() != want {
		t.Errorf("got %q, want %q", err, want)
	}
}

func TestConsentKeys(t *testing.T) {
	c, err := Parse("c.toml", []byte("ask_unknown_origins = false\ndenied_origins = [\"HTTPS://Spam.example:443\"]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.AskUnknownOrigins || len(c.DeniedOrigins) != 1 || c.DeniedOrigins[0] != "https://spam.example" {
		t.Fatalf("got ask=%v denied=%v", c.AskUnknownOrigins, c.DeniedOrigins)
	}
	_, err = Parse("c.toml", []byte("\ndenied_origins = [\"spam.example\"]\n"))
	if err == nil || !strings.Contains(err.Error(), `line 2: key "denied_origins[0]"`) {
		t.Fatalf("bad denied origin: %v", err)
	}
	if _, err := Parse("c.toml", []byte("ask_unknown_origins = \"yes\"\n")); err == nil || !strings.Contains(err.Error(), "ask_unknown_origins") {
		t.Fatalf("string for a bool: %v", err)
	}
}

func TestSaveConfigRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "config.toml")
	want := exampleConfig()
	want.Token = "s3cret"
	want.DeniedOrigins = []string{"https://spam.example"}
	want.Routes = append(want.Routes, Route{Path: "/lines", Target: "localhost:21401", Framing: "lines"})
	if err := Save(path, want); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" && st.Mode().Perm() != 0o600 {
		t.Errorf("config saved with mode %v; it may hold the token", st.Mode().Perm())
	}
	got, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("round trip:\n got  %+v\n want %+v", got, want)
	}
	bad := want
	bad.Port = 0
	if err := Save(path, bad); err == nil {
		t.Fatal("an invalid config was saved")
	}
	if again, _ := Load(path); !reflect.DeepEqual(again, want) {
		t.Fatal("a refused save changed the file")
	}
}

func TestLaunchEnvValuesNeverShown(t *testing.T) {
	const route = "[[routes]]\npath = \"/a\"\ntarget = \"h:1\"\n"
	for _, doc := range []string{
		route + "launch = [\"e\"]\nlaunch_env = { KEY = \"s3cret\\u0000\" }\n",
		route + "launch = [\"e\"]\nlaunch_env = { KEY = [\"s3cret\"] }\n",
		route + "launch_env = { KEY = \"s3cret\" }\n",
	} {
		_, err := Parse("x.toml", []byte(doc))
		if err == nil || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("Parse(%q) = %v; want an error without the value", doc, err)
		}
	}
}

func TestLoadConfigResolvesLaunchPaths(t *testing.T) {
	home, _, _ := testutil.SetHome(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "c.toml")
	for _, tt := range []struct{ program, launchDir, wantProgram, wantDir string }{
		{"engine", "work", "engine", filepath.Join(dir, "work")}, // a bare name is looked up in PATH
		{"./bin/engine", "", filepath.Join(dir, "bin", "engine"), ""},
		{"~/orion/engine", "~/orion", filepath.Join(home, "orion", "engine"), filepath.Join(home, "orion")},
		{"/opt/orion/engine", "/var/lib/../lib/orion", "/opt/orion/engine", "/var/lib/orion"},
	} {
		doc := "[[routes]]\npath = \"/ws\"\ntarget = \"127.0.0.1:21400\"\nlaunch = [" + strconv.Quote(tt.program) + ", \"--port\", \"21400\"]\n"
		if tt.launchDir != "" {
			doc += "launch_dir = " + strconv.Quote(tt.launchDir) + "\n"
		}
		testutil.WriteFile(t, path, doc)
		c, err := Load(path)
		if err != nil {
			t.Fatalf("%s: %v", tt.program, err)
		}
		r := c.Routes[0]
		if want := []string{tt.wantProgram, "--port", "21400"}; !reflect.DeepEqual(r.Launch, want) || r.LaunchDir != tt.wantDir {
			t.Errorf("launch %q, launch_dir %q: got %q in %q; want %q in %q", tt.program, tt.launchDir, r.Launch, r.LaunchDir, want, tt.wantDir)
		}
	}
}

func TestSaveConfigRoundTripLaunch(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.toml")
	want := exampleConfig()
	want.DeniedOrigins = []string{"https://spam.example"} // saved as [] when empty
	want.Routes = append(want.Routes, Route{Path: "/engine", Target: "127.0.0.1:21401", Framing: "lines",
		Launch: []string{"/opt/orion engine/engine", "--port", "21401"}, LaunchDir: "/var/lib/orion",
		LaunchEnv: map[string]string{"ORION_LICENSE": "k=v \"quoted\"", "LANG": "C"}})
	if err := Save(path, want); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(string(data), "launch") != 3 {
		t.Errorf("routes without launch should not write launch keys:\n%s", data)
	}
	got, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("round trip:\n got  %+v\n want %+v", got, want)
	}
}

// A config file decides which engine command the bridge runs (launch), so
// one that others may change is refused, naming the file and the fix; root
// and the user may own it, and others may read it.
func TestConfigFileOthersCanWriteIsRefused(t *testing.T) {
	testutil.RequireRoot(t, "it chowns a config file to another user")
	dir := t.TempDir()
	for _, tc := range []struct {
		name  string
		mode  os.FileMode
		owner int // -1: the running user
		want  string
	}{
		{"yours, 0644", 0o644, -1, ""},
		{"yours, 0600", 0o600, -1, ""},
		{"group-writable", 0o664, -1, "is writable by others (mode 0664), and it decides what the bridge runs: chmod go-w "},
		{"world-writable", 0o666, -1, "is writable by others (mode 0666)"},
		{"another user's", 0o644, 65534, "owned by uid 65534"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_")+".toml")
			testutil.WriteFile(t, path, "port = 31443\n")
			if err := os.Chmod(path, tc.mode); err != nil {
				t.Fatal(err)
			}
			if tc.owner >= 0 {
				if err := os.Chown(path, tc.owner, tc.owner); err != nil {
					t.Fatal(err)
				}
			}
			_, err := Load(path)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("Load: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "config "+path+": ")):
				t.Fatalf("Load = %v; want an error for %s containing %q", err, path, tc.want)
			}
		})
	}
}
