package config

// The file is decoded with github.com/pelletier/go-toml/v2, not
// github.com/BurntSushi/toml, because its errors carry structure: in strict
// mode each unknown key, and each value of the wrong type, comes back as a
// DecodeError with the key and its line and column. BurntSushi (v1.6) reports
// unknown keys only through MetaData.Undecoded(), with no line, and type
// mismatches as plain strings, so we would be parsing its messages or
// re-scanning the file. Both are actively maintained. go-toml's own parser,
// unstable.Parser, gives the lines of keys whose values Validate rejects; its
// API may change in a minor release, which the tests would catch.

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pelletier/go-toml/v2"
	"github.com/pelletier/go-toml/v2/unstable"

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
	Routes            []Route  `toml:"routes"`
}

// Route maps a URL path on the bridge to one fixed TCP target.
type Route struct {
	Path    string `toml:"path"`
	Target  string `toml:"target"`  // host:port, e.g. 127.0.0.1:21400
	Framing string `toml:"framing"` // raw | lines | length-prefixed
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

// Error is a problem with a configuration file or value.
type Error struct {
	File    string // as given to Load or Parse; empty for Validate
	Line    int    // 1-based; 0 if unknown
	Key     string // e.g. "port" or "routes[1].framing"; empty for syntax errors
	Problem string
	err     error // the cause, e.g. from os.ReadFile, for errors.Is
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("config")
	if e.File != "" {
		b.WriteString(" " + e.File)
	}
	b.WriteString(": ")
	if e.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	// `unknown key "x" (…)` already names the key.
	if e.Key != "" && !strings.Contains(e.Problem, strconv.Quote(e.Key)) {
		fmt.Fprintf(&b, "key %q: ", e.Key)
	}
	b.WriteString(e.Problem)
	return b.String()
}

func (e *Error) Unwrap() error { return e.err }

// DefaultPath returns <os.UserConfigDir()>/OrionBridge/config.toml.
func DefaultPath() (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("locating the user config dir: %w", err)
	}
	return filepath.Join(dir, appDirName, "config.toml"), nil
}

// Load reads the file at path. path == "" means the default location,
// where a missing file yields Default() (with DataDir resolved). The
// returned Config is validated and has DataDir resolved to an absolute path;
// a relative data_dir is taken relative to the file's directory.
//
// The machine-wide managed config (see ManagedPath), when it exists,
// overrides the file key by key: IT's settings win.
func Load(path string) (Config, error) {
	c, _, err := LoadSources(path)
	return c, err
}

// LoadSources is Load that also says where each top-level key
// came from: the user file's path or the managed file's; keys missing from
// the map have their default.
func LoadSources(path string) (Config, map[string]string, error) {
	explicit := path != ""
	if !explicit {
		p, err := DefaultPath()
		if err != nil {
			return Config{}, nil, err
		}
		path = p
	}
	var layers []configLayer
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		layers = append(layers, configLayer{path, data})
	case !explicit && errors.Is(err, fs.ErrNotExist):
	default:
		return Config{}, nil, ReadError(path, err)
	}
	if managed := ManagedPath(); managed != "" {
		data, err := os.ReadFile(managed)
		switch {
		case err == nil:
			layers = append(layers, configLayer{managed, data})
		case errors.Is(err, fs.ErrNotExist):
		default:
			return Config{}, nil, ReadError(managed, err)
		}
	}
	c, sources, err := parseLayers(layers)
	if err != nil {
		return Config{}, nil, err
	}
	if len(layers) == 0 {
		sources = map[string]string{}
	}
	if c.DataDir, err = resolveDataDir(c.DataDir, filepath.Dir(path)); err != nil {
		return Config{}, nil, &Error{File: path, Key: "data_dir", Problem: err.Error(), err: err}
	}
	routesFile := path // or the managed file, when the routes are IT's
	if f := sources["routes"]; f != "" {
		routesFile = f
	}
	if err := resolveLaunchPaths(c.Routes, filepath.Dir(routesFile)); err != nil {
		err.File = routesFile
		return Config{}, nil, err
	}
	return c, sources, nil
}

func ReadError(path string, err error) error {
	problem := err.Error()
	if pe, ok := errors.AsType[*fs.PathError](err); ok {
		problem = pe.Err.Error() // the path is already in the message
	}
	return &Error{File: path, Problem: problem, err: err}
}

// resolveLaunchPaths makes each launch_dir, and each launch program given
// as a path, absolute: relative to the config file's folder like data_dir,
// with ~ expanded. A bare program name is looked up in PATH when launched.
func resolveLaunchPaths(routes []Route, base string) *Error {
	for i := range routes {
		r := &routes[i]
		key := fmt.Sprintf("routes[%d].", i)
		if r.LaunchDir != "" {
			dir, err := resolveDataDir(r.LaunchDir, base)
			if err != nil {
				return &Error{Key: key + "launch_dir", Problem: err.Error(), err: err}
			}
			r.LaunchDir = dir
		}
		if len(r.Launch) > 0 && filepath.Base(r.Launch[0]) != r.Launch[0] {
			prog, err := resolveDataDir(r.Launch[0], base)
			if err != nil {
				return &Error{Key: key + "launch[0]", Problem: err.Error(), err: err}
			}
			r.Launch = append([]string{prog}, r.Launch[1:]...)
		}
	}
	return nil
}

func resolveDataDir(dir, base string) (string, error) {
	switch {
	case dir == "":
		d, err := userDataDir()
		if err != nil {
			return "", fmt.Errorf("locating the user data dir: %w", err)
		}
		dir = filepath.Join(d, appDirName)
	case dir == "~" || strings.HasPrefix(dir, "~/"):
		// TOML has no shell to expand "~", yet people write it.
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("expanding ~: %w", err)
		}
		dir = filepath.Join(home, dir[1:])
	case !filepath.IsAbs(dir):
		// The working directory of a desktop app is arbitrary.
		dir = filepath.Join(base, dir)
	}
	return filepath.Abs(dir)
}

// Marshal writes cfg as TOML, as Save does, durations as "30s".
func Marshal(cfg Config) ([]byte, error) {
	return toml.Marshal(fileConfig{Config: cfg, PingInterval: cfg.PingInterval.String(), PongTimeout: cfg.PongTimeout.String()})
}

// fileConfig shadows Config's durations with strings, so that "30s" parses
// and a bare integer (which would silently mean nanoseconds) is a type error.
type fileConfig struct {
	Config
	PingInterval string `toml:"ping_interval"`
	PongTimeout  string `toml:"pong_timeout"`
}

// Parse parses TOML bytes; name is used in error messages. The result
// is validated and normalised, but DataDir is left as written (see
// Load).
func Parse(name string, data []byte) (Config, error) {
	c, _, err := parseLayers([]configLayer{{name: name, data: data}})
	return c, err
}

// configLayer is one configuration file; later layers override earlier
// ones key by key.
type configLayer struct {
	name string
	data []byte
}

// parseLayers decodes the layers over the defaults, in order, then
// validates the result. sources maps each top-level key a layer set to that
// layer's name. An error names the layer and line the bad key came from.
func parseLayers(layers []configLayer) (c Config, sources map[string]string, err error) {
	def := Default()
	f := fileConfig{Config: def, PingInterval: def.PingInterval.String(), PongTimeout: def.PongTimeout.String()}
	sources = map[string]string{}
	idxs := map[string][]keyPos{}
	for _, l := range layers {
		// Some Windows editors save a byte order mark, which TOML does not allow.
		data := bytes.TrimPrefix(l.data, []byte("\uFEFF"))
		idx := keyIndex(data)
		// go-toml takes a [routes] table as a one-route array, but then a second
		// [routes] fails with a puzzling "table routes already exists".
		for _, k := range idx {
			if k.path == "routes" && k.kind == unstable.Table {
				return Config{}, nil, &Error{File: l.name, Line: k.line, Key: k.path, Problem: "expected [[routes]] tables (double brackets), got [routes]"}
			}
		}
		// Decoding over the same struct keeps what earlier layers set for
		// keys this layer leaves out; arrays are replaced whole.
		dec := toml.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&f); err != nil {
			return Config{}, nil, decodeError(l.name, idx, err)
		}
		for _, k := range idx {
			sources[topKey(k.path)] = l.name
		}
		idxs[l.name] = idx
	}
	c = f.Config
	if c.PingInterval, err = parseDuration("ping_interval", f.PingInterval); err == nil {
		c.PongTimeout, err = parseDuration("pong_timeout", f.PongTimeout)
	}
	if err == nil {
		err = c.Validate()
	}
	if err != nil {
		if ce, ok := errors.AsType[*Error](err); ok {
			ce.File = sources[topKey(ce.Key)]
			if ce.File == "" && len(layers) > 0 {
				ce.File = layers[len(layers)-1].name
			}
			ce.Line = lineOf(idxs[ce.File], ce.Key)
		}
		return Config{}, nil, err
	}
	c.Normalize()
	return c, sources, nil
}

// topKey is the top-level key of a key path: "routes" for "routes[1].path".
func topKey(path string) string {
	if i := strings.IndexAny(path, ".["); i >= 0 {
		return path[:i]
	}
	return path
}

func parseDuration(key, s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, &Error{Key: key, Problem: fmt.Sprintf("expected %s, got %q", expectation(key), s), err: err}
	}
	return d, nil
}

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
		if err := validateLaunch(c.Routes, i); err != nil {
			return err
		}
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

// Normalize assumes c is valid.
func (c *Config) Normalize() {
	for i := range c.Routes {
		if c.Routes[i].Framing == "" {
			c.Routes[i].Framing = "raw"
		}
	}
	for _, list := range [][]string{c.AllowedOrigins, c.DeniedOrigins} {
		for i, o := range list {
			list[i], _ = bridge.ParseOrigin(o)
		}
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

// expectations says what each key takes, in the words of error messages.
// Keys are paths with array indices elided: "routes[].path".
var expectations = map[string]string{
	"port":                "a port number 1-65535",
	"fallback_ports":      "an array of port numbers",
	"fallback_ports[]":    "a port number 1-65535",
	"data_dir":            "a directory path",
	"allowed_origins":     "an array of origins",
	"allowed_origins[]":   `an origin like "https://app.example.com" or "https://*.example.com" (scheme http or https, no path)`,
	"token":               "a string",
	"max_clients":         "an integer >= 1",
	"max_message_bytes":   fmt.Sprintf("an integer 1-%d", maxMessageBytesLimit),
	"ping_interval":       `a positive duration like "30s"`,
	"pong_timeout":        `a positive duration like "60s"`,
	"cert_file":           "a file path",
	"key_file":            "a file path",
	"ask_unknown_origins": "true or false",
	"denied_origins":      "an array of origins",
	"denied_origins[]":    `an origin like "https://app.example.com" or "https://*.example.com" (scheme http or https, no path)`,
	"routes":              "at least one [[routes]] table",
	"routes[]":            "a [[routes]] table",
	"routes[].path":       `a URL path starting with "/"`,
	"routes[].target":     `"host:port" with a port number 1-65535`,
	"routes[].framing":    "raw, lines or length-prefixed",
	"routes[].launch":     `a non-empty array like ["/path/to/engine", "--port", "21400"]`,
	"routes[].launch[]":   "the engine's program path or arguments, as strings",
	"routes[].launch_dir": "a directory path",
	"routes[].launch_env": `a table of strings like { NAME = "value" }`,
	// A value in launch_env.
	"routes[].launch_env.*": "a string",
}

var (
	arrayIndex = regexp.MustCompile(`\[\d+\]`)
	envName    = regexp.MustCompile(`(\.launch_env)\..+$`) // names are the user's
)

// keyPattern turns a key into its expectations entry: "routes[0].path" is
// "routes[].path", "routes[1].launch_env.HOME" is "routes[].launch_env.*".
func keyPattern(key string) string {
	return envName.ReplaceAllString(arrayIndex.ReplaceAllString(key, "[]"), "$1.*")
}

func expectation(key string) string {
	if e, ok := expectations[keyPattern(key)]; ok {
		return e
	}
	return "a valid value"
}

func knownKey(key string) bool {
	_, ok := expectations[keyPattern(key)]
	return ok
}

func validPort(p int) bool { return p >= 1 && p <= 65535 }

// typeMismatch matches go-toml's messages for a value of the wrong TOML type.
// They name Go types, so we rephrase them in the file's terms; the tests
// notice if go-toml rewords them.
var typeMismatch = regexp.MustCompile(`^cannot (decode TOML|store)`)

func decodeError(name string, idx []keyPos, err error) error {
	ce := &Error{File: name, Problem: err.Error(), err: err}
	// A StrictMissingError also unwraps to DecodeErrors, so it goes first.
	missing, isMissing := errors.AsType[*toml.StrictMissingError](err)
	de, isDecode := errors.AsType[*toml.DecodeError](err)
	switch {
	case isMissing && len(missing.Errors) > 0:
		e := &missing.Errors[0]
		line, col := e.Position()
		ce.Line = line
		ce.Key = findKey(idx, line, col, e.Key()).path
		ce.Problem = fmt.Sprintf("unknown key %q (known keys: %s)", ce.Key, knownKeys(ce.Key))
	case isDecode:
		line, col := de.Position()
		msg := strings.TrimPrefix(de.Error(), "toml: ")
		ce.Line, ce.Key, ce.Problem = line, strings.Join(de.Key(), "."), "invalid TOML: "+msg
		if typeMismatch.MatchString(msg) {
			k := findKey(idx, line, col, de.Key())
			got, ok := kindNames[k.kind]
			for !knownKey(k.path) && strings.Contains(k.path, ".") {
				// "port.x = 1" makes port a table.
				k.path, got, ok = k.path[:strings.LastIndexByte(k.path, '.')], "a table", true
			}
			ce.Key, ce.Problem = k.path, "expected "+expectation(k.path)
			if ok {
				ce.Problem += ", got " + got
			}
		}
	}
	return ce
}

func knownKeys(key string) string {
	t := reflect.TypeFor[Config]()
	if strings.HasPrefix(key, "routes[") || strings.HasPrefix(key, "routes.") {
		t = reflect.TypeFor[Route]()
	}
	var names []string
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
		names = append(names, name)
	}
	return strings.Join(names, ", ")
}

var kindNames = map[unstable.Kind]string{
	unstable.String:        "a string",
	unstable.Integer:       "an integer",
	unstable.Float:         "a float",
	unstable.Bool:          "a boolean",
	unstable.Array:         "an array",
	unstable.InlineTable:   "a table",
	unstable.Table:         "a table",
	unstable.ArrayTable:    "an array of tables",
	unstable.DateTime:      "a date-time",
	unstable.LocalDateTime: "a date-time",
	unstable.LocalDate:     "a date",
	unstable.LocalTime:     "a time",
}

// keyPos is where a key or a value sits in the document.
type keyPos struct {
	path      string // "routes[1].framing", "fallback_ports[2]"
	line, col int
	kind      unstable.Kind // of the value there
}

// keyIndex lists the keys and values of a TOML document with their positions,
// in document order, as far as the document parses. go-toml's errors give a
// position and a key without array indices; this finds the full key, and the
// line of a key whose value Validate rejects.
func keyIndex(data []byte) []keyPos {
	var p unstable.Parser
	p.Reset(data)
	var idx []keyPos
	add := func(path string, n *unstable.Node, kind unstable.Kind) {
		if n.Raw.Length > 0 { // arrays have no range
			s := p.Shape(n.Raw).Start
			idx = append(idx, keyPos{path, s.Line, s.Column, kind})
		}
	}
	firstKey := func(n *unstable.Node) *unstable.Node {
		it := n.Key()
		it.Next()
		return it.Node()
	}
	join := func(prefix, key string) string {
		if prefix == "" {
			return key
		}
		return prefix + "." + key
	}
	var keyValue func(table string, kv *unstable.Node)
	var value func(path string, v *unstable.Node)
	keyValue = func(table string, kv *unstable.Node) {
		path, it := table, kv.Key()
		for it.Next() {
			path = join(path, string(it.Node().Data))
		}
		add(path, firstKey(kv), kv.Value().Kind)
		value(path, kv.Value())
	}
	// go-toml reports type errors at the value, not the key.
	value = func(path string, v *unstable.Node) {
		add(path, v, v.Kind)
		switch v.Kind {
		case unstable.Array:
			i := 0
			for it := v.Children(); it.Next(); i++ {
				value(fmt.Sprintf("%s[%d]", path, i), it.Node())
			}
		case unstable.InlineTable:
			for it := v.Children(); it.Next(); {
				keyValue(path, it.Node())
			}
		}
	}
	table, arrays := "", map[string]int{} // array table path -> elements so far
	for p.NextExpression() {
		e := p.Expression()
		switch e.Kind {
		case unstable.KeyValue:
			keyValue(table, e)
		case unstable.Table, unstable.ArrayTable:
			table = ""
			for it := e.Key(); it.Next(); {
				table = join(table, string(it.Node().Data))
				n := arrays[table]
				if it.IsLast() && e.Kind == unstable.ArrayTable {
					arrays[table] = n + 1
					table = fmt.Sprintf("%s[%d]", table, n)
				} else if n > 0 { // [routes.x] after [[routes]] is in the last route
					table = fmt.Sprintf("%s[%d]", table, n-1)
				}
			}
			add(table, firstKey(e), e.Kind)
		}
	}
	return idx
}

// findKey finds the key go-toml reports at line:col. Its key lacks array
// indices and, inside inline tables, the enclosing keys, so we prefer ours.
func findKey(idx []keyPos, line, col int, key toml.Key) keyPos {
	want := strings.Join(key, ".")
	found := keyPos{path: want, kind: unstable.Invalid}
	for _, k := range idx {
		if k.line == line && k.col == col {
			found = k
			break
		}
		bare := arrayIndex.ReplaceAllString(k.path, "")
		if found.kind == unstable.Invalid && k.line == line && (bare == want || strings.HasSuffix(bare, "."+want)) {
			found = k // a fallback: the exact position may be the value's
		}
	}
	if found.kind == unstable.ArrayTable {
		// A [[header]] names the array, not its element.
		found.path = found.path[:strings.LastIndexByte(found.path, '[')]
	}
	return found
}

// lineOf returns the line of key, or of its table if the key is absent (a
// route without a path), or 0.
func lineOf(idx []keyPos, key string) int {
	if key == "" {
		return 0
	}
	candidates := []string{key}
	if i := strings.LastIndexByte(key, '.'); i > 0 {
		candidates = append(candidates, key[:i])
	}
	for _, k := range candidates {
		for _, p := range idx {
			if p.path == k {
				return p.line
			}
		}
	}
	return 0
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
