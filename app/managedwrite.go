package app

// `orionbridge config write-managed` writes keys of the machine-wide managed
// config (managedConfigPath: %ProgramData%\OrionBridge\config.toml,
// /etc/orionbridge/config.toml, /Library/Application Support/OrionBridge/
// config.toml). It exists for installers: the MSI runs it as a deferred
// custom action, as LocalSystem, with its public properties,
//
//	orionbridge.exe config write-managed --port "[PORT]" --allowed-origins "[ALLOWED_ORIGINS]" --engine-address "[ENGINE_ADDRESS]"
//
// so `msiexec /i OrionBridge.msi ALLOWED_ORIGINS=https://shop.example.com`
// is all IT types. Windows Installer substitutes an unset property with an
// empty string, so an empty value means "not given" and leaves that key as
// it is; with no key given nothing is written (on Windows the folder is
// still created and locked down, see prepareManagedDir).
//
// Keys already in the file that are not given are kept: IT may have
// deployed other keys by other means (a GPO file copy, a script). The file
// is rewritten from its parsed form, so comments in it are not kept.

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"orionbridge/internal/replacefile"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/pelletier/go-toml/v2"
)

const managedWriteUsage = "usage: orionbridge config write-managed [--port N] [--allowed-origins ORIGIN,ORIGIN…] [--engine-address HOST:PORT]"

// managedHeader heads the written file, for whoever opens it later.
const managedHeader = "# Orion Bridge machine-wide configuration. Every key here overrides the same\n" +
	"# key in each user's configuration. Written by `orionbridge config write-managed`\n" +
	"# (the installer); every key is described in Orion Bridge's README.\n\n"

func managedWriteCommand(args []string, stdout, stderr io.Writer) int {
	flags := newFlagSet("config write-managed", stderr)
	port := flags.String("port", "", "the HTTPS/WSS `port` (key port)")
	origins := flags.String("allowed-origins", "", "comma-separated `origins` allowed to connect (key allowed_origins)")
	engine := flags.String("engine-address", "", "`host:port` of the report engine: the first route's target (key routes[0].target)")
	pos, status, ok := parseFlags(flags, args)
	if !ok {
		return status
	}
	if len(pos) > 0 {
		fmt.Fprintf(stderr, "orionbridge config write-managed: unexpected argument %q\n%s\n", pos[0], managedWriteUsage)
		return exitUsage
	}
	keys := managedKeys{}
	if p := strings.TrimSpace(*port); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil {
			fmt.Fprintf(stderr, "orionbridge config write-managed: --port %q: expected a port number 1-65535\n", p)
			return exitUsage
		}
		keys.port = &n
	}
	if o := strings.TrimSpace(*origins); o != "" {
		list := []string{}
		for _, s := range strings.Split(o, ",") {
			if s = strings.TrimSpace(s); s != "" {
				list = append(list, s)
			}
		}
		keys.origins = list
	}
	if e := strings.TrimSpace(*engine); e != "" {
		keys.engine = e
	}

	path := managedConfigPath()
	if err := prepareManagedDir(filepath.Dir(path)); err != nil {
		fmt.Fprintf(stderr, "orionbridge config write-managed: %v\n", err)
		return exitFailure
	}
	if keys.empty() {
		fmt.Fprintf(stdout, "%s: no key given, nothing written\n", path)
		return exitOK
	}
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		fmt.Fprintln(stderr, readError(path, err))
		return exitFailure
	}
	data, err := mergeManaged(path, old, keys)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitUsage
	}
	if err := writeManagedFile(path, data); err != nil {
		fmt.Fprintf(stderr, "orionbridge config write-managed: %v\n", err)
		return exitFailure
	}
	fmt.Fprintf(stdout, "%s: wrote %s\n", path, strings.Join(keys.names(), ", "))
	return exitOK
}

// managedKeys are the keys given on the command line; nil or "" means not
// given.
type managedKeys struct {
	port    *int
	origins []string
	engine  string
}

func (k managedKeys) empty() bool { return len(k.names()) == 0 }

func (k managedKeys) names() []string {
	var n []string
	if k.port != nil {
		n = append(n, "port")
	}
	if k.origins != nil {
		n = append(n, "allowed_origins")
	}
	if k.engine != "" {
		n = append(n, "routes[0].target")
	}
	return n
}

// validate checks the given values on their own, as the bridge would, so
// that a bad one is named by its flag rather than by a line of a file that
// was never written.
func (k managedKeys) validate() error {
	m := map[string]any{}
	flags := map[string]string{}
	if k.port != nil {
		m["port"] = *k.port
		flags["port"] = fmt.Sprintf("--port %d", *k.port)
	}
	if k.origins != nil {
		m["allowed_origins"] = k.origins
		flags["allowed_origins"] = fmt.Sprintf("--allowed-origins %q", strings.Join(k.origins, ","))
	}
	if k.engine != "" {
		def := DefaultConfig().Routes[0]
		m["routes"] = []any{map[string]any{"path": def.Path, "framing": def.Framing, "target": k.engine}}
		flags["routes"] = fmt.Sprintf("--engine-address %q", k.engine)
	}
	data, err := toml.Marshal(m)
	if err != nil {
		return err
	}
	_, err = ParseConfig("", data)
	if ce, ok := errors.AsType[*ConfigError](err); ok {
		if flag := flags[topKey(ce.Key)]; flag != "" {
			return fmt.Errorf("orionbridge config write-managed: %s: %s", flag, ce.Problem)
		}
	}
	return err
}

// mergeManaged sets keys over the managed file's current content old (nil
// when there is none) and returns the new file, validated by ParseConfig as
// the bridge will read it. A current file that does not parse is an error:
// rewriting it would drop whatever IT meant by it.
func mergeManaged(path string, old []byte, keys managedKeys) ([]byte, error) {
	if err := keys.validate(); err != nil {
		return nil, err
	}
	m := map[string]any{}
	if len(old) > 0 {
		if _, err := ParseConfig(path, old); err != nil {
			return nil, fmt.Errorf("%w (fix or remove the file, then run the installer again)", err)
		}
		if err := toml.Unmarshal(bytes.TrimPrefix(old, []byte("\uFEFF")), &m); err != nil {
			return nil, &ConfigError{File: path, Problem: err.Error(), err: err}
		}
	}
	if keys.port != nil {
		m["port"] = *keys.port
	}
	if keys.origins != nil {
		m["allowed_origins"] = keys.origins
	}
	if keys.engine != "" {
		// routes replaces the user's routes as a whole (arrays are not
		// merged), so a managed file without routes gets the default route
		// with the new target rather than a route of its own making.
		routes, _ := m["routes"].([]any)
		if len(routes) == 0 {
			def := DefaultConfig().Routes[0]
			routes = []any{map[string]any{"path": def.Path, "framing": def.Framing}}
		}
		first, ok := routes[0].(map[string]any)
		if !ok {
			return nil, &ConfigError{File: path, Key: "routes", Problem: "expected [[routes]] tables"}
		}
		first["target"] = keys.engine
		m["routes"] = routes
	}
	body, err := toml.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	data := append([]byte(managedHeader), body...)
	if _, err := ParseConfig(path, data); err != nil {
		return nil, err
	}
	return data, nil
}

// writeManagedFile replaces path with data atomically, so a bridge watching
// the file never reads half of it, and durably (replacefile.WriteFile syncs
// the file and its folder). The file is readable by every user (each user's
// bridge reads it, hence 0644) and writable by the administrator only,
// which the folder ensures: on Windows the temporary file inherits the DACL
// that prepareManagedDir set on the folder when it is created, and keeps it
// through the rename, so no ACL is set here; elsewhere the folder is under
// /etc or /Library, which only root can write.
func writeManagedFile(path string, data []byte) error {
	return replacefile.WriteFile(path, data, 0o644)
}
