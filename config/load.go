package config

// Loading: the user's file, then the machine-wide managed file over it key
// by key, with paths resolved.
//
// The files are decoded with github.com/pelletier/go-toml/v2, not
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
	"orionbridge/internal/owneronly"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/pelletier/go-toml/v2"
	"github.com/pelletier/go-toml/v2/unstable"
)

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
	data, err := readSetting("config file", path)
	switch {
	case err == nil:
		layers = append(layers, configLayer{path, data})
	case !explicit && errors.Is(err, fs.ErrNotExist):
	default:
		return Config{}, nil, ReadError(path, err)
	}
	if managed := ManagedPath(); managed != "" {
		data, err := readSetting("managed config", managed)
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

// readSetting reads a config file after checking that nobody but its
// owner, the running user or root (SYSTEM or Administrators on Windows),
// can change it: the file decides which engine command the bridge runs
// (launch), so a config that others may write would let them run programs
// as this user (internal/owneronly.CheckSetting).
func readSetting(what, path string) ([]byte, error) {
	if err := owneronly.CheckSetting(what, path); err != nil {
		var oe *owneronly.Error
		if errors.As(err, &oe) {
			return nil, &Error{File: path, Problem: oe.Problem + ": " + oe.Fix, err: err}
		}
		if errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
	}
	return os.ReadFile(path)
}

func ReadError(path string, err error) error {
	if ce, ok := errors.AsType[*Error](err); ok {
		return ce // readSetting's: it names the file already
	}
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
