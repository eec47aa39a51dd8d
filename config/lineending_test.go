package config

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// line_ending: its values, its default on lines routes, the errors that
// name the line, the key and the fix, and how `config show` prints it.
func TestLineEnding(t *testing.T) {
	route := func(extra string) string {
		return "[[routes]]\npath = \"/redis\"\ntarget = \"127.0.0.1:6379\"\n" + extra
	}
	tests := []struct {
		name    string
		toml    string
		want    string // the route's line_ending after loading
		show    string // in `config show`
		wantErr string // the whole error; "" when valid
	}{
		{"crlf", route("framing = \"lines\"\nline_ending = \"crlf\"\n"), "crlf", "/redis -> 127.0.0.1:6379 (lines, crlf)", ""},
		{"lf", route("framing = \"lines\"\nline_ending = \"lf\"\n"), "lf", "(lines, lf)", ""},
		{"lines without it is lf", route("framing = \"lines\"\n"), "", "(lines, lf)", ""},
		{"raw without it", route(""), "", "/redis -> 127.0.0.1:6379 (raw)", ""},
		{"unknown value", route("framing = \"lines\"\nline_ending = \"CRLF\"\n"), "", "",
			`config c.toml: line 5: key "routes[0].line_ending": expected "lf" or "crlf" (lines routes only), got "CRLF"`},
		{"on a raw route", route("line_ending = \"crlf\"\n"), "", "",
			`config c.toml: line 4: key "routes[0].line_ending": line_ending applies to lines routes only, and this route's framing is "raw": remove line_ending, or set framing = "lines"`},
		{"on a length-prefixed route", route("framing = \"length-prefixed\"\nline_ending = \"lf\"\n"), "", "",
			`config c.toml: line 5: key "routes[0].line_ending": line_ending applies to lines routes only, and this route's framing is "length-prefixed": remove line_ending, or set framing = "lines"`},
		{"not a string", route("framing = \"lines\"\nline_ending = 13\n"), "", "",
			`config c.toml: line 5: key "routes[0].line_ending": expected "lf" or "crlf" (lines routes only), got an integer`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("c.toml", []byte(tt.toml))
			if tt.wantErr != "" {
				var ce *Error
				if err == nil || !errors.As(err, &ce) || err.Error() != tt.wantErr {
					t.Fatalf("got %v\nwant %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := c.Routes[0].LineEnding; got != tt.want {
				t.Errorf("line_ending %q, want %q", got, tt.want)
			}
			var out bytes.Buffer
			WriteShow(&out, c, map[string]string{"routes": "c.toml"})
			if !strings.Contains(out.String(), tt.show) {
				t.Errorf("config show:\n%s\nwant it to hold %q", out.String(), tt.show)
			}
			// What Save writes reads back the same.
			data, err := Marshal(c)
			if err != nil {
				t.Fatal(err)
			}
			back, err := Parse("saved.toml", data)
			if err != nil || back.Routes[0].LineEnding != c.Routes[0].LineEnding {
				t.Errorf("saved and read back: %v, line_ending %q\n%s", err, back.Routes[0].LineEnding, data)
			}
		})
	}
}
