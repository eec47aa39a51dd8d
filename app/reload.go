package app

import (
	"context"
	"orionbridge/config"
	"os"
	"reflect"
	"sort"
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
	return [2]fileStamp{stampOf(in.ConfigPath()), stampOf(config.ManagedPath())}
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
	cfg, sources, err := config.LoadSources(in.ConfigPath())
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
	managed := config.ManagedPath()
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
func (in *Instance) checkManaged(cfg config.Config) (config.Config, error) {
	keys := in.managedKeysLocked()
	if len(keys) == 0 {
		return cfg, nil
	}
	for _, k := range keys {
		if !reflect.DeepEqual(config.Field(cfg, k), config.Field(in.cfg, k)) {
			return cfg, &config.Error{File: config.ManagedPath(), Key: k, Problem: "set by the machine-wide config; ask your IT department to change it"}
		}
	}
	user := config.Default()
	if data, err := os.ReadFile(in.configPath); err == nil {
		if c, err := config.Parse(in.configPath, data); err == nil {
			user = c
			user.DataDir = cfg.DataDir // resolved, like cfg's
		}
	}
	out := cfg
	for _, k := range keys {
		config.SetField(&out, k, config.Field(user, k))
	}
	return out, nil
}

// seenStampsNow is the stamps of the files as last looked at.
func (in *Instance) seenStampsNow() [2]fileStamp {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.seenStamps
}
