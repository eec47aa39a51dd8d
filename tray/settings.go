package tray

import (
	"cmp"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"fyne.io/fyne/v2/lang"

	"orionbridge/config"
)

// framings are the choices for a route's framing, as the config file spells
// them.
var framings = []string{"raw", "lines", "length-prefixed"}

// lineEndings are the choices for a lines route's line_ending.
var lineEndings = []string{"lf", "crlf"}

// settingsForm is the Settings tab's fields as typed, before parsing.
type settingsForm struct {
	Port            string
	Routes          []routeFields
	MaxClients      string
	MaxMessageBytes string
	PingInterval    string
	PongTimeout     string
}

// routeFields are one route's editable fields; its path identifies it and is
// not edited here, since pages hard-code it.
type routeFields struct {
	Path    string
	Target  string
	Framing string
	// LineEnding is "lf" or "crlf" on a lines route, "" on the others,
	// which take none.
	LineEnding string
}

// fieldErrors maps a config key ("port", "routes[0].target") to what is
// wrong with it. The key "" holds problems no single field shows.
type fieldErrors map[string]string

// settingsFromConfig fills the form from the configuration in force.
func settingsFromConfig(c config.Config) settingsForm {
	f := settingsForm{
		Port:            strconv.Itoa(c.Port),
		MaxClients:      strconv.Itoa(c.MaxClients),
		MaxMessageBytes: formatByteSize(c.MaxMessageBytes),
		PingInterval:    formatSettingDuration(c.PingInterval),
		PongTimeout:     formatSettingDuration(c.PongTimeout),
	}
	for _, r := range c.Routes {
		framing := r.Framing
		if framing == "" {
			framing = "raw"
		}
		ending := ""
		if framing == "lines" {
			ending = cmp.Or(r.LineEnding, "lf")
		}
		f.Routes = append(f.Routes, routeFields{Path: r.Path, Target: r.Target, Framing: framing, LineEnding: ending})
	}
	return f
}

// apply parses the form onto base, which supplies every key the form does
// not show (the token, the origins, the fallback ports), and validates the
// result with the same rules as the config file. It returns every parse
// error, or else Validate's error, keyed by field.
func (f settingsForm) apply(base config.Config) (config.Config, fieldErrors) {
	c := base
	c.Routes = slices.Clone(base.Routes)
	errs := fieldErrors{}
	var err error
	if c.Port, err = parseWhole(f.Port); err != nil {
		errs["port"] = err.Error()
	}
	if len(f.Routes) != len(c.Routes) {
		// The configuration changed under the form: refuse rather than guess.
		errs[""] = lang.X("settings.routes_changed", "the routes changed since this form was filled: click Revert")
	} else {
		for i, r := range f.Routes {
			c.Routes[i].Target = strings.TrimSpace(r.Target)
			c.Routes[i].Framing = r.Framing
			c.Routes[i].LineEnding = formLineEnding(r, base.Routes[i])
		}
	}
	if c.MaxClients, err = parseWhole(f.MaxClients); err != nil {
		errs["max_clients"] = err.Error()
	}
	if c.MaxMessageBytes, err = parseByteSize(f.MaxMessageBytes); err != nil {
		errs["max_message_bytes"] = err.Error()
	}
	if c.PingInterval, err = parseSettingDuration(f.PingInterval); err != nil {
		errs["ping_interval"] = err.Error()
	}
	if c.PongTimeout, err = parseSettingDuration(f.PongTimeout); err != nil {
		errs["pong_timeout"] = err.Error()
	}
	if len(errs) > 0 {
		return base, errs
	}
	if err := c.Validate(); err != nil {
		return base, configFieldError(err)
	}
	return c, nil
}

// formLineEnding is the line_ending to save for a route: none unless it is
// a lines route (a line ending left from an earlier lines framing would make
// the config invalid), and none for "lf" where the file had none, so an
// unchanged form adds no key to the file.
func formLineEnding(r routeFields, was config.Route) string {
	if r.Framing != "lines" || r.LineEnding == "lf" && was.LineEnding == "" {
		return ""
	}
	return r.LineEnding
}

// configFieldError files an error from Validate or ApplyConfig under the
// field that shows its key; nil for no error.
func configFieldError(err error) fieldErrors {
	if err == nil {
		return nil
	}
	ce, ok := errors.AsType[*config.Error](err)
	if !ok {
		return fieldErrors{"": err.Error()}
	}
	key := ce.Key
	// The form shows no fallback ports; a clash with one is the port's.
	if strings.HasPrefix(key, "fallback_ports") {
		key = "port"
	}
	if !settingsKey(key) {
		return fieldErrors{"": ce.Error()}
	}
	return fieldErrors{key: ce.Problem}
}

// settingsKey reports whether the form has a field for key.
func settingsKey(key string) bool {
	switch key {
	case "port", "max_clients", "max_message_bytes", "ping_interval", "pong_timeout":
		return true
	}
	return strings.HasPrefix(key, "routes[") && (strings.HasSuffix(key, "].target") || strings.HasSuffix(key, "].framing") || strings.HasSuffix(key, "].line_ending"))
}

func parseWhole(s string) (int, error) {
	s = strings.TrimSpace(s)
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, errors.New(lang.X("settings.whole_number", "expected a whole number, got {{.Value}}", map[string]any{"Value": strconv.Quote(s)}))
	}
	return n, nil
}

// byteUnits are the suffixes a size may carry, binary as in the README.
var byteUnits = []struct {
	name string
	size int64
}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}}

// parseByteSize reads "16777216", "16 MiB" or "512KiB".
func parseByteSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	num, mult := s, int64(1)
	for _, u := range byteUnits {
		if len(s) > len(u.name) && strings.EqualFold(s[len(s)-len(u.name):], u.name) {
			num, mult = strings.TrimSpace(s[:len(s)-len(u.name)]), u.size
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n > (1<<62)/mult {
		return 0, errors.New(lang.X("settings.size", `expected a size like "16 MiB" or a number of bytes, got {{.Value}}`, map[string]any{"Value": strconv.Quote(s)}))
	}
	return n * mult, nil
}

// formatByteSize writes n in the largest unit that divides it exactly, so
// that parseByteSize reads back the same number.
func formatByteSize(n int64) string {
	for _, u := range byteUnits[:3] {
		if n >= u.size && n%u.size == 0 {
			return strconv.FormatInt(n/u.size, 10) + " " + u.name
		}
	}
	return strconv.FormatInt(n, 10)
}

func parseSettingDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, errors.New(lang.X("settings.duration", `expected a duration like "30s" or "2m", got {{.Value}}`, map[string]any{"Value": strconv.Quote(s)}))
	}
	return d, nil
}

// formatSettingDuration drops Go's zero tails: "1m0s" reads better as "1m".
func formatSettingDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
