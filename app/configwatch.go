package app

import (
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"reflect"
	"slices"
	"sort"
	"strings"
	"time"
)

// configCheckEvery is how often a running bridge looks for edits of its
// config files; edits are applied without a restart.
const configCheckEvery = 2 * time.Second

// fileStamp identifies one version of a file without reading it.
type fileStamp struct {
	mod  time.Time
	size int64
	ok   bool
}

func stampOf(path string) fileStamp {
	st, err := os.Stat(path)
	if err != nil {
		return fileStamp{}
	}
	return fileStamp{mod: st.ModTime(), size: st.Size(), ok: true}
}

// configStamps are the stamps of the user and the managed config files.
func (in *Instance) configStamps() [2]fileStamp {
	return [2]fileStamp{stampOf(in.ConfigPath()), stampOf(managedConfigPath())}
}

// watchConfig applies edits of the config files until ctx is done.
func (in *Instance) watchConfig(ctx context.Context) {
	every(ctx, configCheckEvery, in.applyEditedConfig)
}

// applyEditedConfig reloads the config files when they changed since they
// were last seen.
func (in *Instance) applyEditedConfig() {
	now := in.configStamps()
	in.mu.Lock()
	changed := now != in.seenStamps
	in.seenStamps = now
	in.mu.Unlock()
	if !changed {
		return
	}
	if err := in.Reload(); err != nil {
		in.log.Error("the edited configuration is not valid and was not applied; still running with the previous one", "err", err)
		return
	}
	in.log.Info("configuration file changed; applied")
}

// Reload reads the config files again and applies them without saving.
func (in *Instance) Reload() error {
	cfg, sources, err := LoadConfigSources(in.ConfigPath())
	if err != nil {
		return err
	}
	in.mu.Lock()
	in.sources = sources
	in.mu.Unlock()
	return in.apply(cfg, false)
}

// ManagedKeys are the keys the machine-wide config sets: the tray shows them
// read-only and ApplyConfig refuses to change them.
func (in *Instance) ManagedKeys() []string {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.managedKeysLocked()
}

func (in *Instance) managedKeysLocked() []string {
	managed := managedConfigPath()
	var keys []string
	for k, src := range in.sources {
		if src == managed {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}

// checkManaged refuses a change to a key IT manages, and returns cfg as the
// user file should hold it: with the user's own values for those keys, so
// a key IT stops managing falls back to what the user had.
func (in *Instance) checkManaged(cfg Config) (Config, error) {
	keys := in.managedKeysLocked()
	if len(keys) == 0 {
		return cfg, nil
	}
	for _, k := range keys {
		if !reflect.DeepEqual(configField(cfg, k), configField(in.cfg, k)) {
			return cfg, &ConfigError{File: managedConfigPath(), Key: k, Problem: "set by the machine-wide config; ask your IT department to change it"}
		}
	}
	user := DefaultConfig()
	if data, err := os.ReadFile(in.configPath); err == nil {
		if c, _, err := parseLayers([]configLayer{{in.configPath, data}}); err == nil {
			user = c
			user.DataDir = cfg.DataDir // resolved, like cfg's
		}
	}
	out := cfg
	for _, k := range keys {
		setConfigField(&out, k, configField(user, k))
	}
	return out, nil
}

// configField reads the field whose toml tag is key.
func configField(c Config, key string) any {
	v := reflect.ValueOf(c)
	for i := range v.NumField() {
		if tagName(v.Type().Field(i)) == key {
			return v.Field(i).Interface()
		}
	}
	return nil
}

func setConfigField(c *Config, key string, val any) {
	v := reflect.ValueOf(c).Elem()
	for i := range v.NumField() {
		if tagName(v.Type().Field(i)) == key {
			v.Field(i).Set(reflect.ValueOf(val))
			return
		}
	}
}

func tagName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
	return name
}

// configKeys lists Config's keys in file order.
func configKeys() []string {
	t := reflect.TypeFor[Config]()
	keys := make([]string, 0, t.NumField())
	for i := range t.NumField() {
		keys = append(keys, tagName(t.Field(i)))
	}
	return keys
}

// writeConfigShow prints every key's value and where it came from, with
// the secrets redacted (Config.Redacted).
func writeConfigShow(w io.Writer, cfg Config, sources map[string]string) {
	cfg = cfg.Redacted()
	for _, k := range configKeys() {
		src := sources[k]
		if src == "" {
			src = "default"
		}
		if k == "token" && cfg.Token != "" {
			fmt.Fprintf(w, "%-20s = %-40s # %s\n", k, `"(set, not shown)"`, src)
			continue
		}
		if k == "routes" {
			for i, r := range cfg.Routes {
				key := fmt.Sprintf("routes[%d]", i)
				fmt.Fprintf(w, "%-20s = %-40s # %s\n", key, fmt.Sprintf("%s -> %s (%s)", r.Path, r.Target, r.Framing), src)
				if r.Launch != nil {
					fmt.Fprintf(w, "%-20s = %-40s # %s\n", key+".launch", fmt.Sprintf("%q", r.Launch), src)
				}
				if r.LaunchDir != "" {
					fmt.Fprintf(w, "%-20s = %-40q # %s\n", key+".launch_dir", r.LaunchDir, src)
				}
				for _, name := range slices.Sorted(maps.Keys(r.LaunchEnv)) {
					fmt.Fprintf(w, "%-20s = %-40q # %s\n", key+".launch_env."+name, r.LaunchEnv[name], src)
				}
			}
			continue
		}
		val := configField(cfg, k)
		if d, ok := val.(time.Duration); ok {
			val = d.String()
		}
		fmt.Fprintf(w, "%-20s = %-40v # %s\n", k, val, src)
	}
}

// seenStampsNow is the stamps of the files as last looked at.
func (in *Instance) seenStampsNow() [2]fileStamp {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.seenStamps
}
