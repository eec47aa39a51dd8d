package tray

import (
	"errors"
	"slices"
	"strings"

	"fyne.io/fyne/v2/lang"

	"orionbridge/bridge"
	"orionbridge/config"
)

// allowOrigin returns c with input added to allowed_origins in canonical
// form, and taken off denied_origins: the operator changed their mind.
func allowOrigin(c config.Config, input string) (config.Config, error) {
	input = strings.TrimSpace(input)
	if input == "" {
		return c, errors.New(lang.X("sites.type_a_site", `type a site like "https://editor.example.com"`))
	}
	origin, err := bridge.ParseOrigin(strings.TrimSuffix(input, "/"))
	if err != nil {
		return c, err
	}
	if slices.Contains(c.AllowedOrigins, origin) {
		return c, errors.New(lang.X("sites.already_allowed", "{{.Origin}} is already allowed", map[string]any{"Origin": origin}))
	}
	c.AllowedOrigins = append(slices.Clone(c.AllowedOrigins), origin)
	c.DeniedOrigins = without(c.DeniedOrigins, origin)
	return c, nil
}

// without returns list less every copy of s, leaving list untouched.
func without(list []string, s string) []string {
	out := make([]string, 0, len(list))
	for _, v := range list {
		if v != s {
			out = append(out, v)
		}
	}
	return out
}
