package config

// The pretty errors: each names the file, the line, the key and what was
// expected, from go-toml's DecodeErrors and an index of the keys' lines.

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"github.com/pelletier/go-toml/v2"
	"github.com/pelletier/go-toml/v2/unstable"

	"orionbridge/assets"
)

// Error is a problem with a configuration file or value.
type Error struct {
	File    string // as given to Load or Parse; empty for Validate
	Line    int    // 1-based; 0 if unknown
	Key     string // e.g. "port" or "routes[1].framing"; empty for syntax errors
	Problem string
	err     error // the cause, e.g. from os.ReadFile, for errors.Is
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("config")
	if e.File != "" {
		b.WriteString(" " + e.File)
	}
	b.WriteString(": ")
	if e.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	// `unknown key "x" (…)` already names the key.
	if e.Key != "" && !strings.Contains(e.Problem, strconv.Quote(e.Key)) {
		fmt.Fprintf(&b, "key %q: ", e.Key)
	}
	b.WriteString(e.Problem)
	return b.String()
}

func (e *Error) Unwrap() error { return e.err }

// expectations says what each key takes, in the words of error messages.
// Keys are paths with array indices elided: "routes[].path".
var expectations = map[string]string{
	"port":                "a port number 1-65535",
	"fallback_ports":      "an array of port numbers",
	"fallback_ports[]":    "a port number 1-65535",
	"port_range":          "an array of two port numbers [first, last], like [21443, 21542], or [] for none",
	"port_range[]":        "a port number 1-65535",
	"allow_other_users":   "true or false",
	"language":            languageChoices(), // the tray's language: "" or a catalogue's tag
	"data_dir":            "a directory path",
	"allowed_origins":     "an array of origins",
	"allowed_origins[]":   `an origin like "https://app.example.com" or "https://*.example.com" (scheme http or https, no path)`,
	"token":               "a string",
	"max_clients":         "an integer >= 1",
	"max_message_bytes":   fmt.Sprintf("an integer 1-%d", maxMessageBytesLimit),
	"ping_interval":       `a positive duration like "30s"`,
	"pong_timeout":        `a positive duration like "60s"`,
	"cert_file":           "a file path",
	"key_file":            "a file path",
	"ask_unknown_origins": "true or false",
	"denied_origins":      "an array of origins",
	"denied_origins[]":    `an origin like "https://app.example.com" or "https://*.example.com" (scheme http or https, no path)`,
	"routes":              "at least one [[routes]] table",
	"routes[]":            "a [[routes]] table",
	"routes[].path":       `a URL path starting with "/"`,
	"routes[].target":     `"host:port" with a port number 1-65535`,
	"routes[].framing":    "raw, lines or length-prefixed",
	"routes[].launch":     `a non-empty array like ["/path/to/engine", "--port", "21400"]`,
	"routes[].launch[]":   "the engine's program path or arguments, as strings",
	"routes[].launch_dir": "a directory path",
	"routes[].launch_env": `a table of strings like { NAME = "value" }`,
	// A value in launch_env.
	"routes[].launch_env.*": "a string",
	// How a lines route ends its lines (bridge.LineEnding).
	"routes[].line_ending": `"lf" or "crlf" (lines routes only)`,
}

var (
	arrayIndex = regexp.MustCompile(`\[\d+\]`)
	envName    = regexp.MustCompile(`(\.launch_env)\..+$`) // names are the user's
)

// keyPattern turns a key into its expectations entry: "routes[0].path" is
// "routes[].path", "routes[1].launch_env.HOME" is "routes[].launch_env.*".
func keyPattern(key string) string {
	return envName.ReplaceAllString(arrayIndex.ReplaceAllString(key, "[]"), "$1.*")
}

// languageChoices says what language takes, from the catalogues there are:
// `"" (follow the system's language), "en" or "ko"`.
func languageChoices() string {
	tags := assets.Languages()
	quoted := make([]string, len(tags))
	for i, t := range tags {
		quoted[i] = strconv.Quote(t)
	}
	last := len(quoted) - 1
	return `"" (follow the system's language), ` + strings.Join(quoted[:last], ", ") + " or " + quoted[last]
}

func expectation(key string) string {
	if e, ok := expectations[keyPattern(key)]; ok {
		return e
	}
	return "a valid value"
}

func knownKey(key string) bool {
	_, ok := expectations[keyPattern(key)]
	return ok
}

func validPort(p int) bool { return p >= 1 && p <= 65535 }

// typeMismatch matches go-toml's messages for a value of the wrong TOML type.
// They name Go types, so we rephrase them in the file's terms; the tests
// notice if go-toml rewords them.
var typeMismatch = regexp.MustCompile(`^cannot (decode TOML|store)`)

func decodeError(name string, idx []keyPos, err error) error {
	ce := &Error{File: name, Problem: err.Error(), err: err}
	// A StrictMissingError also unwraps to DecodeErrors, so it goes first.
	missing, isMissing := errors.AsType[*toml.StrictMissingError](err)
	de, isDecode := errors.AsType[*toml.DecodeError](err)
	switch {
	case isMissing && len(missing.Errors) > 0:
		e := &missing.Errors[0]
		line, col := e.Position()
		ce.Line = line
		ce.Key = findKey(idx, line, col, e.Key()).path
		ce.Problem = fmt.Sprintf("unknown key %q (known keys: %s)", ce.Key, knownKeys(ce.Key))
	case isDecode:
		line, col := de.Position()
		msg := strings.TrimPrefix(de.Error(), "toml: ")
		ce.Line, ce.Key, ce.Problem = line, strings.Join(de.Key(), "."), "invalid TOML: "+msg
		if typeMismatch.MatchString(msg) {
			k := findKey(idx, line, col, de.Key())
			got, ok := kindNames[k.kind]
			for !knownKey(k.path) && strings.Contains(k.path, ".") {
				// "port.x = 1" makes port a table.
				k.path, got, ok = k.path[:strings.LastIndexByte(k.path, '.')], "a table", true
			}
			ce.Key, ce.Problem = k.path, "expected "+expectation(k.path)
			if ok {
				ce.Problem += ", got " + got
			}
		}
	}
	return ce
}

func knownKeys(key string) string {
	t := reflect.TypeFor[Config]()
	if strings.HasPrefix(key, "routes[") || strings.HasPrefix(key, "routes.") {
		t = reflect.TypeFor[Route]()
	}
	var names []string
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
		names = append(names, name)
	}
	return strings.Join(names, ", ")
}

var kindNames = map[unstable.Kind]string{
	unstable.String:        "a string",
	unstable.Integer:       "an integer",
	unstable.Float:         "a float",
	unstable.Bool:          "a boolean",
	unstable.Array:         "an array",
	unstable.InlineTable:   "a table",
	unstable.Table:         "a table",
	unstable.ArrayTable:    "an array of tables",
	unstable.DateTime:      "a date-time",
	unstable.LocalDateTime: "a date-time",
	unstable.LocalDate:     "a date",
	unstable.LocalTime:     "a time",
}

// keyPos is where a key or a value sits in the document.
type keyPos struct {
	path      string // "routes[1].framing", "fallback_ports[2]"
	line, col int
	kind      unstable.Kind // of the value there
}

// keyIndex lists the keys and values of a TOML document with their positions,
// in document order, as far as the document parses. go-toml's errors give a
// position and a key without array indices; this finds the full key, and the
// line of a key whose value Validate rejects.
func keyIndex(data []byte) []keyPos {
	var p unstable.Parser
	p.Reset(data)
	var idx []keyPos
	add := func(path string, n *unstable.Node, kind unstable.Kind) {
		if n.Raw.Length > 0 { // arrays have no range
			s := p.Shape(n.Raw).Start
			idx = append(idx, keyPos{path, s.Line, s.Column, kind})
		}
	}
	firstKey := func(n *unstable.Node) *unstable.Node {
		it := n.Key()
		it.Next()
		return it.Node()
	}
	join := func(prefix, key string) string {
		if prefix == "" {
			return key
		}
		return prefix + "." + key
	}
	var keyValue func(table string, kv *unstable.Node)
	var value func(path string, v *unstable.Node)
	keyValue = func(table string, kv *unstable.Node) {
		path, it := table, kv.Key()
		for it.Next() {
			path = join(path, string(it.Node().Data))
		}
		add(path, firstKey(kv), kv.Value().Kind)
		value(path, kv.Value())
	}
	// go-toml reports type errors at the value, not the key.
	value = func(path string, v *unstable.Node) {
		add(path, v, v.Kind)
		switch v.Kind {
		case unstable.Array:
			i := 0
			for it := v.Children(); it.Next(); i++ {
				value(fmt.Sprintf("%s[%d]", path, i), it.Node())
			}
		case unstable.InlineTable:
			for it := v.Children(); it.Next(); {
				keyValue(path, it.Node())
			}
		}
	}
	table, arrays := "", map[string]int{} // array table path -> elements so far
	for p.NextExpression() {
		e := p.Expression()
		switch e.Kind {
		case unstable.KeyValue:
			keyValue(table, e)
		case unstable.Table, unstable.ArrayTable:
			table = ""
			for it := e.Key(); it.Next(); {
				table = join(table, string(it.Node().Data))
				n := arrays[table]
				if it.IsLast() && e.Kind == unstable.ArrayTable {
					arrays[table] = n + 1
					table = fmt.Sprintf("%s[%d]", table, n)
				} else if n > 0 { // [routes.x] after [[routes]] is in the last route
					table = fmt.Sprintf("%s[%d]", table, n-1)
				}
			}
			add(table, firstKey(e), e.Kind)
		}
	}
	return idx
}

// findKey finds the key go-toml reports at line:col. Its key lacks array
// indices and, inside inline tables, the enclosing keys, so we prefer ours.
func findKey(idx []keyPos, line, col int, key toml.Key) keyPos {
	want := strings.Join(key, ".")
	found := keyPos{path: want, kind: unstable.Invalid}
	for _, k := range idx {
		if k.line == line && k.col == col {
			found = k
			break
		}
		bare := arrayIndex.ReplaceAllString(k.path, "")
		if found.kind == unstable.Invalid && k.line == line && (bare == want || strings.HasSuffix(bare, "."+want)) {
			found = k // a fallback: the exact position may be the value's
		}
	}
	if found.kind == unstable.ArrayTable {
		// A [[header]] names the array, not its element.
		found.path = found.path[:strings.LastIndexByte(found.path, '[')]
	}
	return found
}

// lineOf returns the line of key, or of its table if the key is absent (a
// route without a path), or 0.
func lineOf(idx []keyPos, key string) int {
	if key == "" {
		return 0
	}
	candidates := []string{key}
	if i := strings.LastIndexByte(key, '.'); i > 0 {
		candidates = append(candidates, key[:i])
	}
	for _, k := range candidates {
		for _, p := range idx {
			if p.path == k {
				return p.line
			}
		}
	}
	return 0
}
