package config

// `orionbridge config show`, and the key-by-key access the managed config
// needs: a Config's fields by their TOML key.

import (
	"cmp"
	"fmt"
	"io"
	"maps"
	"reflect"
	"slices"
	"strings"
	"time"
)

// Field reads the field whose toml tag is key.
func Field(c Config, key string) any {
	v := reflect.ValueOf(c)
	for i := range v.NumField() {
		if tagName(v.Type().Field(i)) == key {
			return v.Field(i).Interface()
		}
	}
	return nil
}

func SetField(c *Config, key string, val any) {
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

// Keys lists Config's keys in file order.
func Keys() []string {
	t := reflect.TypeFor[Config]()
	keys := make([]string, 0, t.NumField())
	for i := range t.NumField() {
		keys = append(keys, tagName(t.Field(i)))
	}
	return keys
}

// WriteShow prints every key's value and where it came from, with
// the secrets redacted (Config.Redacted).
func WriteShow(w io.Writer, cfg Config, sources map[string]string) {
	cfg = cfg.Redacted()
	for _, k := range Keys() {
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
				framing := r.Framing
				if framing == "lines" {
					framing += ", " + cmp.Or(r.LineEnding, "lf") // "lines, crlf"
				}
				fmt.Fprintf(w, "%-20s = %-40s # %s\n", key, fmt.Sprintf("%s -> %s (%s)", r.Path, r.Target, framing), src)
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
		val := Field(cfg, k)
		if d, ok := val.(time.Duration); ok {
			val = d.String()
		}
		fmt.Fprintf(w, "%-20s = %-40v # %s\n", k, val, src)
	}
}
