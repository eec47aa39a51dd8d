package assets

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The catalogues and the code that uses them (issue 18). A key the code
// uses must be in every catalogue, and every catalogue must hold the same
// keys, with the same placeholders, all of them used somewhere: the tray's
// Go code (lang.X / lang.XN with a literal key), the pages' HTML
// (data-i18n, data-i18n-title, data-i18n-placeholder), their JavaScript
// (t("key", …)) and client.js's reason messages ("reason." + code).

// catalogue is one language's messages: key → text, or plural forms.
type catalogue map[string]map[string]string

func loadCatalogues(t *testing.T) map[string]catalogue {
	t.Helper()
	out := map[string]catalogue{}
	for _, tag := range Languages() {
		data, err := Catalogue(tag)
		if err != nil {
			t.Fatal(err)
		}
		var raw map[string]any
		if err := json.Unmarshal(data, &raw); err != nil {
			t.Fatalf("%s.json: %v", tag, err)
		}
		c := catalogue{}
		for key, v := range raw {
			switch v := v.(type) {
			case string:
				c[key] = map[string]string{"other": v}
			case map[string]any:
				forms := map[string]string{}
				for form, text := range v {
					s, ok := text.(string)
					if !ok || !slices.Contains([]string{"zero", "one", "two", "few", "many", "other"}, form) {
						t.Errorf("%s.json: %s: plural form %q must be one of zero, one, two, few, many, other with a string", tag, key, form)
					}
					forms[form] = s
				}
				if forms["other"] == "" {
					t.Errorf("%s.json: %s: plural forms without \"other\"", tag, key)
				}
				c[key] = forms
			default:
				t.Errorf("%s.json: %s: want a string or plural forms, got %T", tag, key, v)
			}
		}
		out[tag] = c
	}
	if len(out) < 2 || out[SourceLanguage] == nil {
		t.Fatalf("catalogues %v: want %s and at least one more", slices.Sorted(maps.Keys(out)), SourceLanguage)
	}
	return out
}

// use is one place the code uses a key, with the English text it falls
// back to when there is one.
type use struct {
	where    string // file:line
	fallback string // "" when the use gives none
}

var (
	// lang.X("key", "fallback" or lang.XN("key", "fallback" …; the
	// fallback may be a concatenation of literals over lines.
	goCall = regexp.MustCompile("lang\\.(?:X|XN|L|N)\\(\\s*\"([^\"]+)\"(?:,\\s*((?:\"(?:[^\"\\\\]|\\\\.)*\"\\s*\\+?\\s*|`[^`]*`\\s*\\+?\\s*)+))?")
	// A key that is not a literal cannot be checked.
	goDynamic = regexp.MustCompile(`lang\.(?:X|XN|L|N)\(\s*[^"\s]`)
	// Plural forms follow the rule of the tag a catalogue is registered
	// under, which is not its language when the config chooses one
	// (tray/i18n.go): counts are template logic in the message instead.
	goPlural  = regexp.MustCompile(`lang\.(?:XN|N)\(`)
	htmlAttr  = regexp.MustCompile(`data-i18n(?:-title|-placeholder)?="([^"]+)"`)
	jsCall    = regexp.MustCompile(`\bt\(\s*"([^"]+)"(?:,\s*"((?:[^"\\]|\\.)*)")?`)
	jsDynamic = regexp.MustCompile(`\bt\(\s*[^"\s)]`)
	goString  = regexp.MustCompile("\"(?:[^\"\\\\]|\\\\.)*\"|`[^`]*`")
)

func lineOf(src string, offset int) int { return strings.Count(src[:offset], "\n") + 1 }

// codeKeys scans the sources for the keys they use.
func codeKeys(t *testing.T) map[string][]use {
	t.Helper()
	keys := map[string][]use{}
	add := func(key, where, fallback string) { keys[key] = append(keys[key], use{where, fallback}) }

	goFiles, err := filepath.Glob("../tray/*.go")
	if err != nil || len(goFiles) == 0 {
		t.Fatalf("no tray sources to scan (%v)", err)
	}
	for _, name := range goFiles {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src := readFile(t, name)
		for _, m := range goCall.FindAllStringSubmatchIndex(src, -1) {
			key := src[m[2]:m[3]]
			fallback := ""
			if m[4] >= 0 {
				for _, lit := range goString.FindAllString(src[m[4]:m[5]], -1) {
					s, err := strconv.Unquote(lit)
					if err != nil {
						t.Fatalf("%s:%d: fallback %s: %v", name, lineOf(src, m[0]), lit, err)
					}
					fallback += s
				}
			}
			add(key, fmt.Sprintf("%s:%d", name, lineOf(src, m[0])), fallback)
		}
		for _, m := range goDynamic.FindAllStringIndex(src, -1) {
			t.Errorf("%s:%d: a lang call whose key is not a string literal: write the key out, so this test can check it", name, lineOf(src, m[0]))
		}
		for _, m := range goPlural.FindAllStringIndex(src, -1) {
			t.Errorf("%s:%d: lang.XN picks the plural form by the tag's rule, not the language's: use lang.X with {{if eq .Count 1}}…{{else}}…{{end}} in the message", name, lineOf(src, m[0]))
		}
	}

	err = fs.WalkDir(Web, "web", func(p string, d fs.DirEntry, err error) error {
		// i18n.js is the lookup itself: its keys come from the HTML.
		if err != nil || d.IsDir() || strings.Contains(p, "/_test/") || p == "web/i18n.js" {
			return err
		}
		b, err := fs.ReadFile(Web, p)
		if err != nil {
			return err
		}
		src := string(b)
		switch filepath.Ext(p) {
		case ".html":
			for _, m := range htmlAttr.FindAllStringSubmatchIndex(src, -1) {
				add(src[m[2]:m[3]], fmt.Sprintf("%s:%d", p, lineOf(src, m[0])), "")
			}
		case ".js":
			for _, m := range jsCall.FindAllStringSubmatchIndex(src, -1) {
				fallback := ""
				if m[4] >= 0 {
					if err := json.Unmarshal([]byte(`"`+src[m[4]:m[5]]+`"`), &fallback); err != nil {
						t.Errorf("%s:%d: fallback: %v", p, lineOf(src, m[0]), err)
					}
				}
				add(src[m[2]:m[3]], fmt.Sprintf("%s:%d", p, lineOf(src, m[0])), fallback)
			}
			for _, m := range jsDynamic.FindAllStringIndex(src, -1) {
				t.Errorf("%s:%d: t() with a key that is not a string literal: write the key out, so this test can check it", p, lineOf(src, m[0]))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for code := range clientMessages(t)[SourceLanguage] {
		add("reason."+code, "web/client.js REASONS", "")
	}
	return keys
}

func readFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var placeholder = regexp.MustCompile(`\{\{\s*\.(\w+)\s*\}\}`)

func placeholders(s string) []string {
	var names []string
	for _, m := range placeholder.FindAllStringSubmatch(s, -1) {
		names = append(names, m[1])
	}
	slices.Sort(names)
	return slices.Compact(names)
}

func TestCataloguesMatchTheCode(t *testing.T) {
	cats := loadCatalogues(t)
	used := codeKeys(t)
	if len(used) == 0 {
		t.Fatal("found no key in the code: the scan is broken")
	}
	en := cats[SourceLanguage]
	for _, key := range slices.Sorted(maps.Keys(used)) {
		for _, tag := range slices.Sorted(maps.Keys(cats)) {
			if _, ok := cats[tag][key]; !ok {
				t.Errorf("%s.json lacks %q, used at %s", tag, key, used[key][0].where)
			}
		}
		for _, u := range used[key] {
			if u.fallback != "" && en[key] != nil && en[key]["other"] != u.fallback {
				t.Errorf("%s: the fallback of %q is %q, but en.json says %q: change one to match the other", u.where, key, u.fallback, en[key]["other"])
			}
		}
	}
	for _, tag := range slices.Sorted(maps.Keys(cats)) {
		for _, key := range slices.Sorted(maps.Keys(cats[tag])) {
			if _, ok := used[key]; !ok {
				t.Errorf("%s.json has %q, which no code uses: remove it, or use it", tag, key)
			}
			if _, ok := en[key]; !ok {
				t.Errorf("%s.json has %q, which en.json lacks", tag, key)
				continue
			}
			want := placeholders(strings.Join(slices.Collect(maps.Values(en[key])), " "))
			for form, text := range cats[tag][key] {
				if got := placeholders(text); !slices.Equal(got, want) {
					t.Errorf("%s.json: %s (%s) has placeholders %v, en.json %v", tag, key, form, got, want)
				}
			}
		}
	}
}

// The pages load only the languages i18n.js lists: the same as the
// catalogues.
func TestPagesListEveryCatalogue(t *testing.T) {
	b, err := fs.ReadFile(Web, "web/i18n.js")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`export const LANGUAGES = Object\.freeze\(\[([^\]]*)\]\)`).FindSubmatch(b)
	if m == nil {
		t.Fatal("i18n.js: no LANGUAGES")
	}
	var listed []string
	if err := json.Unmarshal([]byte("["+string(m[1])+"]"), &listed); err != nil {
		t.Fatalf("i18n.js LANGUAGES: %v", err)
	}
	if !slices.Equal(listed, Languages()) {
		t.Errorf("i18n.js LANGUAGES is %q; the catalogues are %q", listed, Languages())
	}
	if listed[0] != SourceLanguage {
		t.Errorf("i18n.js LANGUAGES starts with %q: the first is the fallback, %q", listed[0], SourceLanguage)
	}
}

// clientBlock is client.js's embedded messages: MESSAGES = { en: REASONS,
// ko: { "code": "text", … } }, and REASONS itself.
var (
	reasonsBlock  = regexp.MustCompile(`(?s)export const REASONS = Object\.freeze\(\{(.*?)\n\}\);`)
	messagesBlock = regexp.MustCompile(`(?s)\n  ([a-z]{2}): Object\.freeze\(\{(.*?)\n  \}\),`)
	messageLine   = regexp.MustCompile(`(?m)^\s*"([a-z-]+)": ("(?:[^"\\]|\\.)*"),$`)
)

// clientMessages reads the reason messages client.js embeds, by language:
// a page on another site cannot fetch the catalogue from a bridge that is
// not running, so client.js carries them itself.
func clientMessages(t *testing.T) map[string]map[string]string {
	t.Helper()
	b, err := fs.ReadFile(Web, "web/client.js")
	if err != nil {
		t.Fatal(err)
	}
	src := string(b)
	parse := func(block string) map[string]string {
		out := map[string]string{}
		for _, m := range messageLine.FindAllStringSubmatch(block, -1) {
			var s string
			if err := json.Unmarshal([]byte(m[2]), &s); err != nil {
				t.Fatalf("client.js: %s: %v", m[0], err)
			}
			out[m[1]] = s
		}
		return out
	}
	r := reasonsBlock.FindStringSubmatch(src)
	if r == nil {
		t.Fatal("client.js: no REASONS block")
	}
	out := map[string]map[string]string{SourceLanguage: parse(r[1])}
	for _, m := range messagesBlock.FindAllStringSubmatch(src, -1) {
		out[m[1]] = parse(m[2])
	}
	return out
}

// client.js's message(reason, lang) says what the catalogues say.
func TestClientMessagesMatchTheCatalogues(t *testing.T) {
	cats := loadCatalogues(t)
	msgs := clientMessages(t)
	if len(msgs[SourceLanguage]) == 0 {
		t.Fatal("client.js: REASONS is empty: the scan is broken")
	}
	for _, tag := range slices.Sorted(maps.Keys(cats)) {
		m, ok := msgs[tag]
		if !ok {
			t.Errorf("client.js has no %s messages: add them to MESSAGES from %s.json's reason.* keys", tag, tag)
			continue
		}
		for _, code := range slices.Sorted(maps.Keys(msgs[SourceLanguage])) {
			want := cats[tag]["reason."+code]["other"]
			if m[code] != want {
				t.Errorf("client.js %s message for %q is %q, %s.json says %q", tag, code, m[code], tag, want)
			}
		}
		if len(m) != len(msgs[SourceLanguage]) {
			t.Errorf("client.js %s has %d messages, REASONS %d", tag, len(m), len(msgs[SourceLanguage]))
		}
	}
	for tag := range msgs {
		if _, ok := cats[tag]; !ok {
			t.Errorf("client.js has %s messages but there is no %s.json", tag, tag)
		}
	}
}
