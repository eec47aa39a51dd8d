// Package config is Orion Bridge's configuration: the TOML file's keys
// and defaults, loading with the machine-wide managed file over the user's,
// the checks and their errors (errors.go), saving, and `config show`.
package config

import (
	"cmp"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"orionbridge/assets"
	"orionbridge/bridge"
	"orionbridge/internal/owneronly"
	"orionbridge/internal/replacefile"
)

// Config is the bridge's configuration as read from a TOML file. Every key
// is optional; a key that is absent keeps its value from Default.
type Config struct {
	Port            int           `toml:"port"`
	FallbackPorts   []int         `toml:"fallback_ports"`
	DataDir         string        `toml:"data_dir"`
	AllowedOrigins  []string      `toml:"allowed_origins"`
	Token           string        `toml:"token"`
	MaxClients      int           `toml:"max_clients"`
	MaxMessageBytes int64         `toml:"max_message_bytes"`
	PingInterval    time.Duration `toml:"ping_interval"` // written as "30s" in TOML
	PongTimeout     time.Duration `toml:"pong_timeout"`  // written as "60s" in TOML
	CertFile        string        `toml:"cert_file"`     // bring your own certificate
	KeyFile         string        `toml:"key_file"`
	// AskUnknownOrigins lets the tray ask the operator about a site that is
	// in neither list. A headless bridge never asks: nobody would answer.
	AskUnknownOrigins bool     `toml:"ask_unknown_origins"`
	DeniedOrigins     []string `toml:"denied_origins"` // refused without asking
	// PortRange is [first, last]: where a bridge goes when its port is
	// another user's Orion Bridge's (a shared computer, a terminal
	// server), after fallback_ports. [] turns it off.
	PortRange []int `toml:"port_range"`
	// AllowOtherUsers serves every local user's processes, not only the
	// bridge's own user's (issue 16); for a bridge run as a service for
	// everyone on purpose. Off by default.
	AllowOtherUsers bool `toml:"allow_other_users"`
	// Language is the tray's and the prompts' language: "" follows the
	// system's, "en" or "ko" (assets.Languages) overrides it. The command
	// line stays English whatever it says (issue 18).
	Language string  `toml:"language"`
	Routes   []Route `toml:"routes"`
}

// Route maps a URL path on the bridge to one fixed TCP target.
type Route struct {
	Path    string `toml:"path"`
	Target  string `toml:"target"`  // host:port, e.g. 127.0.0.1:21400
	Framing string `toml:"framing"` // raw | lines | length-prefixed
	// LineEnding is a lines route's line ending: "lf" (the default) or
	// "crlf" (bridge.LineEnding); only lines routes take it.
	LineEnding string `toml:"line_ending,omitempty"`
	// Launch, when set, is the engine the bridge runs and keeps running for
	// this route: the program and its arguments. It must listen on Target.
	// LaunchDir is its working directory and LaunchEnv adds to its
	// environment; the values of LaunchEnv are never logged.
	Launch    []string          `toml:"launch,omitempty"`
	LaunchDir string            `toml:"launch_dir,omitempty"`
	LaunchEnv map[string]string `toml:"launch_env,omitempty,inline"`
}

// Default is the configuration used when no file exists.
func Default() Config {
	return Config{
		Port:              21443,
		FallbackPorts:     []int{21444, 21445, 21446},
		PortRange:         []int{21443, 21542},
		DataDir:           "", // resolved to the OS user data dir, OrionBridge/
		MaxClients:        100,
		MaxMessageBytes:   16 << 20,
		PingInterval:      30 * time.Second,
		PongTimeout:       60 * time.Second,
		AskUnknownOrigins: true,
		Routes:            []Route{{Path: "/ws", Target: "127.0.0.1:21400", Framing: "raw"}},
	}
}

const (
	appDirName = "OrionBridge"
	// Larger messages are almost certainly a typo, and the bridge may buffer
	// a whole message in memory.
	maxMessageBytesLimit = 1 << 30
)

// Validate checks the values of c, e.g. of a Config built by the settings UI.
// It returns a *Error for the first problem found.
func (c Config) Validate() error {
	bad := func(key, format string, a ...any) error {
		return &Error{Key: key, Problem: fmt.Sprintf(format, a...)}
	}
	expected := func(key string, got any) error {
		return bad(key, "expected %s, got %v", expectation(key), got)
	}
	if !validPort(c.Port) {
		return expected("port", c.Port)
	}
	seen := map[int]bool{c.Port: true}
	for i, p := range c.FallbackPorts {
		key := fmt.Sprintf("fallback_ports[%d]", i)
		if !validPort(p) {
			return expected(key, p)
		}
		if seen[p] {
			return bad(key, "port %d is listed twice; port and fallback_ports must all differ", p)
		}
		seen[p] = true
	}
	if err := validatePortRange(c.PortRange); err != nil {
		return err
	}
	if err := validateLanguage(c.Language); err != nil {
		return err
	}
	for _, list := range []struct {
		key     string
		origins []string
	}{{"allowed_origins", c.AllowedOrigins}, {"denied_origins", c.DeniedOrigins}} {
		for i, o := range list.origins {
			if _, err := bridge.ParseOrigin(o); err != nil {
				return expected(fmt.Sprintf("%s[%d]", list.key, i), strconv.Quote(o))
			}
		}
	}
	if c.MaxClients < 1 {
		return expected("max_clients", c.MaxClients)
	}
	if c.MaxMessageBytes < 1 || c.MaxMessageBytes > maxMessageBytesLimit {
		return expected("max_message_bytes", c.MaxMessageBytes)
	}
	if c.PingInterval <= 0 {
		return expected("ping_interval", c.PingInterval)
	}
	if c.PongTimeout <= 0 {
		return expected("pong_timeout", c.PongTimeout)
	}
	if c.PongTimeout <= c.PingInterval {
		return bad("pong_timeout", "expected more than ping_interval (%s), got %s", c.PingInterval, c.PongTimeout)
	}
	if c.CertFile != "" && c.KeyFile == "" {
		return bad("cert_file", "key_file must be set too")
	}
	if c.KeyFile != "" && c.CertFile == "" {
		return bad("key_file", "cert_file must be set too")
	}
	if len(c.Routes) == 0 {
		return expected("routes", "none")
	}
	paths := map[string]int{}
	for i, r := range c.Routes {
		key := fmt.Sprintf("routes[%d].", i)
		if !strings.HasPrefix(r.Path, "/") {
			return expected(key+"path", strconv.Quote(r.Path))
		}
		if j, dup := paths[r.Path]; dup {
			return bad(key+"path", "duplicate route path %q, also in routes[%d]", r.Path, j)
		}
		paths[r.Path] = i
		if bridge.CheckTarget(r.Target) != nil {
			return expected(key+"target", strconv.Quote(r.Target))
		}
		switch r.Framing {
		case "", "raw", "lines", "length-prefixed":
		default:
			return expected(key+"framing", strconv.Quote(r.Framing))
		}
		if err := validateLineEnding(r, key); err != nil {
			return err
		}
		if err := validateLaunch(c.Routes, i); err != nil {
			return err
		}
	}
	return nil
}

// validateLineEnding checks a route's line_ending: a known value, and only
// on a lines route, where it means something; elsewhere it would be a
// setting that silently does nothing.
func validateLineEnding(r Route, key string) error {
	if !bridge.LineEnding(r.LineEnding).Valid() {
		return &Error{Key: key + "line_ending", Problem: fmt.Sprintf("expected %s, got %q", expectation(key+"line_ending"), r.LineEnding)}
	}
	if r.LineEnding != "" && r.Framing != "lines" {
		framing := cmp.Or(r.Framing, "raw")
		return &Error{Key: key + "line_ending", Problem: fmt.Sprintf("line_ending applies to lines routes only, and this route's framing is %q: remove line_ending, or set framing = \"lines\"", framing)}
	}
	return nil
}

// validateLanguage checks language: "" or a language Orion Bridge has a
// catalogue for.
func validateLanguage(lang string) error {
	if lang == "" || slices.Contains(assets.Languages(), lang) {
		return nil
	}
	return &Error{Key: "language", Problem: fmt.Sprintf("expected %s, got %q", expectation("language"), lang)}
}

// maxPortRange bounds port_range: a bridge probes each taken port in it
// for up to a second, and no machine has a thousand users signed in.
const maxPortRange = 1000

// validatePortRange checks port_range: empty, or [first, last].
func validatePortRange(r []int) error {
	if len(r) == 0 {
		return nil
	}
	if len(r) != 2 {
		return &Error{Key: "port_range", Problem: fmt.Sprintf("expected %s, got %v", expectation("port_range"), r)}
	}
	for i, p := range r {
		if !validPort(p) {
			return &Error{Key: fmt.Sprintf("port_range[%d]", i), Problem: fmt.Sprintf("expected %s, got %d", expectation("port_range[]"), p)}
		}
	}
	if r[0] > r[1] {
		return &Error{Key: "port_range", Problem: fmt.Sprintf("the first port (%d) is above the last (%d): write [%d, %d]", r[0], r[1], r[1], r[0])}
	}
	if r[1]-r[0]+1 > maxPortRange {
		return &Error{Key: "port_range", Problem: fmt.Sprintf("%d ports is more than %d: narrow it, e.g. [%d, %d]", r[1]-r[0]+1, maxPortRange, r[0], r[0]+99)}
	}
	return nil
}

// validateLaunch checks the launch keys of route i.
func validateLaunch(routes []Route, i int) error {
	r, key := routes[i], fmt.Sprintf("routes[%d].", i)
	bad := func(key, format string, a ...any) error {
		return &Error{Key: key, Problem: fmt.Sprintf(format, a...)}
	}
	if r.Launch == nil {
		if r.LaunchDir != "" {
			return bad(key+"launch_dir", "launch must be set too")
		}
		if len(r.LaunchEnv) > 0 {
			return bad(key+"launch_env", "launch must be set too")
		}
		return nil
	}
	if len(r.Launch) == 0 {
		return bad(key+"launch", "expected %s, got []", expectation(key+"launch"))
	}
	if strings.TrimSpace(r.Launch[0]) == "" {
		return bad(key+"launch[0]", "expected the engine's program (a path, or a name found in PATH), got %q", r.Launch[0])
	}
	for j, arg := range r.Launch {
		if strings.ContainsRune(arg, 0) {
			return bad(fmt.Sprintf("%slaunch[%d]", key, j), "expected a string without NUL characters")
		}
	}
	if strings.ContainsRune(r.LaunchDir, 0) {
		return bad(key+"launch_dir", "expected %s, got a string with NUL characters", expectation(key+"launch_dir"))
	}
	for _, name := range slices.Sorted(maps.Keys(r.LaunchEnv)) {
		// The value may be a secret: name only the variable.
		if name == "" || strings.ContainsAny(name, "=\x00") {
			return bad(key+"launch_env", "expected environment variable names without \"=\", got %q", name)
		}
		if strings.ContainsRune(r.LaunchEnv[name], 0) {
			return bad(key+"launch_env", "the value of %s contains a NUL character", name)
		}
	}
	for j, other := range routes[:i] {
		if len(other.Launch) > 0 && other.Target == r.Target {
			return bad(key+"launch", "routes[%d] already launches an engine for target %q; two engines cannot listen on one port", j, r.Target)
		}
	}
	return nil
}

// Normalize assumes c is valid. It writes new slices rather than into the
// ones c holds: a Config copied from a running one shares them, and a
// reader of the running one (under its owner's lock) must not see them
// change.
func (c *Config) Normalize() {
	c.Routes = slices.Clone(c.Routes)
	for i := range c.Routes {
		if c.Routes[i].Framing == "" {
			c.Routes[i].Framing = "raw"
		}
	}
	for _, list := range []*[]string{&c.AllowedOrigins, &c.DeniedOrigins} {
		if *list == nil {
			continue
		}
		out := make([]string, len(*list))
		for i, o := range *list {
			out[i], _ = bridge.ParseOrigin(o)
		}
		*list = out
	}
}

// RedactedText stands in for a secret value wherever Orion Bridge shows a
// config to someone: the support bundle, `config show`, a log record.
const RedactedText = "(redacted)"

// Redacted returns c with every secret-bearing value replaced by
// "(redacted)": the token and the value of each launch_env entry (licence
// keys, passwords; the names stay, they say what is set). It is the one
// redaction function: the support bundle, `config show` and LogValue all
// show a config through it.
func (c Config) Redacted() Config {
	if c.Token != "" {
		c.Token = RedactedText
	}
	c.Routes = slices.Clone(c.Routes)
	for i := range c.Routes {
		c.Routes[i] = c.Routes[i].Redacted()
	}
	return c
}

// Redacted returns r with each launch_env value replaced by "(redacted)".
func (r Route) Redacted() Route {
	if len(r.LaunchEnv) > 0 {
		env := make(map[string]string, len(r.LaunchEnv))
		for name := range r.LaunchEnv {
			env[name] = RedactedText
		}
		r.LaunchEnv = env
	}
	return r
}

// SecretValues are the values Redacted hides, for scrubbing free text
// such as logs. Values shorter than minScrubbed are left out: replacing
// every "1" or "true" would wreck the text, and such values are settings,
// not secrets; the config itself is redacted key by key.
func (c Config) SecretValues() []string {
	var out []string
	if c.Token != "" {
		out = append(out, c.Token)
	}
	for _, r := range c.Routes {
		for _, v := range r.LaunchEnv {
			if len(v) >= minScrubbed {
				out = append(out, v)
			}
		}
	}
	return out
}

const minScrubbed = 6

// LogValue makes a Config logged with slog show secrets redacted.
func (c Config) LogValue() slog.Value {
	type plain Config // without this method
	return slog.AnyValue(plain(c.Redacted()))
}

// LogValue makes a Route logged with slog show secrets redacted.
func (r Route) LogValue() slog.Value {
	type plain Route
	return slog.AnyValue(plain(r.Redacted()))
}

// Save validates cfg and writes it to path, atomically and readable
// by the owner only, since it may hold the token.
func Save(path string, cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	cfg.Normalize()
	data, err := Marshal(cfg)
	if err != nil {
		return fmt.Errorf("save config %s: %w", path, err)
	}
	data = append([]byte("# Orion Bridge configuration, saved by Orion Bridge. Every key is described in its README.\n\n"), data...)
	// The folder must be ours alone: whoever can write it can swap the
	// file, and the file says which engine command the bridge runs.
	if err := owneronly.MkdirAll("config folder", filepath.Dir(path)); err != nil {
		return fmt.Errorf("save config %s: %w", path, err)
	}
	// replacefile syncs the file and its folder, and on Windows retries the
	// rename while the config watcher holds the file open.
	if err := replacefile.WriteFile(path, data, 0o600); err != nil {
		return fmt.Errorf("save config: %w", err) // the error names the path
	}
	return nil
}

// ManagedPath is the machine-wide managed config, overriding the
// user's key by key. Tests point it elsewhere; ORIONBRIDGE_MANAGED_CONFIG
// does too, for trying a managed file without root.
var ManagedPath = func() string {
	if p := os.Getenv("ORIONBRIDGE_MANAGED_CONFIG"); p != "" {
		return p
	}
	return defaultManagedConfigPath()
}
