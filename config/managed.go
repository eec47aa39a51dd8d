package config

// `orionbridge config write-managed` writes keys of the machine-wide managed
// config (ManagedPath: %ProgramData%\OrionBridge\config.toml,
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
// still created and locked down, see PrepareManagedDir).
//
// Keys already in the file that are not given are kept: IT may have
// deployed other keys by other means (a GPO file copy, a script). The file
// is rewritten from its parsed form, so comments in it are not kept.

import (
	"bytes"
	"errors"
	"fmt"
	"orionbridge/internal/replacefile"
	"strings"

	"github.com/pelletier/go-toml/v2"
)

// managedHeader heads the written file, for whoever opens it later.
const managedHeader = "# Orion Bridge machine-wide configuration. Every key here overrides the same\n" +
	"# key in each user's configuration. Written by `orionbridge config write-managed`\n" +
	"# (the installer); every key is described in Orion Bridge's README.\n\n"

// ManagedKeys are the keys given on the command line; nil or "" means not
// given.
type ManagedKeys struct {
	Port    *int     // port
	Origins []string // allowed_origins
	Engine  string   // routes[0].target
}

func (k ManagedKeys) Empty() bool { return len(k.Names()) == 0 }

func (k ManagedKeys) Names() []string {
	var n []string
	if k.Port != nil {
		n = append(n, "port")
	}
	if k.Origins != nil {
		n = append(n, "allowed_origins")
	}
	if k.Engine != "" {
		n = append(n, "routes[0].target")
	}
	return n
}

// validate checks the given values on their own, as the bridge would, so
// that a bad one is named by its flag rather than by a line of a file that
// was never written.
func (k ManagedKeys) validate() error {
	m := map[string]any{}
	flags := map[string]string{}
	if k.Port != nil {
		m["port"] = *k.Port
		flags["port"] = fmt.Sprintf("--port %d", *k.Port)
	}
	if k.Origins != nil {
		m["allowed_origins"] = k.Origins
		flags["allowed_origins"] = fmt.Sprintf("--allowed-origins %q", strings.Join(k.Origins, ","))
	}
	if k.Engine != "" {
		def := Default().Routes[0]
		m["routes"] = []any{map[string]any{"path": def.Path, "framing": def.Framing, "target": k.Engine}}
		flags["routes"] = fmt.Sprintf("--engine-address %q", k.Engine)
	}
	data, err := toml.Marshal(m)
	if err != nil {
		return err
	}
	_, err = Parse("", data)
	if ce, ok := errors.AsType[*Error](err); ok {
		if flag := flags[topKey(ce.Key)]; flag != "" {
			return fmt.Errorf("orionbridge config write-managed: %s: %s", flag, ce.Problem)
		}
	}
	return err
}

// MergeManaged sets keys over the managed file's current content old (nil
// when there is none) and returns the new file, validated by Parse as
// the bridge will read it. A current file that does not parse is an error:
// rewriting it would drop whatever IT meant by it.
func MergeManaged(path string, old []byte, keys ManagedKeys) ([]byte, error) {
	if err := keys.validate(); err != nil {
		return nil, err
	}
	m := map[string]any{}
	if len(old) > 0 {
		if _, err := Parse(path, old); err != nil {
			return nil, fmt.Errorf("%w (fix or remove the file, then run the installer again)", err)
		}
		if err := toml.Unmarshal(bytes.TrimPrefix(old, []byte("\uFEFF")), &m); err != nil {
			return nil, &Error{File: path, Problem: err.Error(), err: err}
		}
	}
	if keys.Port != nil {
		m["port"] = *keys.Port
	}
	if keys.Origins != nil {
		m["allowed_origins"] = keys.Origins
	}
	if keys.Engine != "" {
		// routes replaces the user's routes as a whole (arrays are not
		// merged), so a managed file without routes gets the default route
		// with the new target rather than a route of its own making.
		routes, _ := m["routes"].([]any)
		if len(routes) == 0 {
			def := Default().Routes[0]
			routes = []any{map[string]any{"path": def.Path, "framing": def.Framing}}
		}
		first, ok := routes[0].(map[string]any)
		if !ok {
			return nil, &Error{File: path, Key: "routes", Problem: "expected [[routes]] tables"}
		}
		first["target"] = keys.Engine
		m["routes"] = routes
	}
	body, err := toml.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	data := append([]byte(managedHeader), body...)
	if _, err := Parse(path, data); err != nil {
		return nil, err
	}
	return data, nil
}

// WriteManagedFile replaces path with data atomically, so a bridge watching
// the file never reads half of it, and durably (replacefile.WriteFile syncs
// the file and its folder). The file is readable by every user (each user's
// bridge reads it, hence 0644) and writable by the administrator only,
// which the folder ensures: on Windows the temporary file inherits the DACL
// that PrepareManagedDir set on the folder when it is created, and keeps it
// through the rename, so no ACL is set here; elsewhere the folder is under
// /etc or /Library, which only root can write.
func WriteManagedFile(path string, data []byte) error {
	return replacefile.WriteFile(path, data, 0o644)
}
