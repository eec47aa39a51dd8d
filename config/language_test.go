package config

import (
	"path/filepath"
	"strings"
	"testing"

	"orionbridge/internal/testutil"
)

// The language key (issue 18): "" follows the system, a catalogue's tag
// overrides it, anything else is refused with the choices named.
func TestLanguageKey(t *testing.T) {
	tests := []struct {
		name, toml, want, errHas string
	}{
		{"absent: follow the system", "", "", ""},
		{"empty: follow the system", "language = \"\"\n", "", ""},
		{"English", "language = \"en\"\n", "en", ""},
		{"Korean", "language = \"ko\"\n", "ko", ""},
		{"unknown language", "language = \"fr\"\n", "", `line 1: key "language": expected "" (follow the system's language), "en" or "ko", got "fr"`},
		{"a region is not a catalogue", "language = \"ko-KR\"\n", "", `got "ko-KR"`},
		{"not a string", "language = 1\n", "", "language"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("c.toml", []byte(tt.toml))
			if tt.errHas != "" {
				if err == nil || !strings.Contains(err.Error(), tt.errHas) {
					t.Fatalf("Parse: error %v, want one containing %q", err, tt.errHas)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if c.Language != tt.want {
				t.Errorf("Language = %q, want %q", c.Language, tt.want)
			}
		})
	}
}

// config show lists the key, so IT can see what the tray will speak.
func TestLanguageInShow(t *testing.T) {
	c := Default()
	c.Language = "ko"
	var b strings.Builder
	WriteShow(&b, c, map[string]string{"language": "/etc/orionbridge/config.toml"})
	if !strings.Contains(b.String(), "language             = ko") || !strings.Contains(b.String(), "# /etc/orionbridge/config.toml") {
		t.Errorf("config show lacks the language:\n%s", b.String())
	}
}

// IT sets the language machine-wide: the managed config's key wins over
// the user's, and `config show` names where it came from.
func TestLanguageFromTheManagedConfig(t *testing.T) {
	dir := t.TempDir()
	user := filepath.Join(dir, "config.toml")
	managed := filepath.Join(dir, "managed.toml")
	testutil.WriteFile(t, user, "language = \"en\"\n")
	testutil.WriteFile(t, managed, "language = \"ko\"\n")
	t.Setenv("ORIONBRIDGE_MANAGED_CONFIG", managed)
	c, sources, err := LoadSources(user)
	if err != nil {
		t.Fatal(err)
	}
	if c.Language != "ko" || sources["language"] != managed {
		t.Errorf("language %q from %q; want \"ko\" from the managed %s", c.Language, sources["language"], managed)
	}
}
