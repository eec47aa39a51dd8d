package assets

import (
	"fmt"
	"io/fs"
	"slices"
	"strings"
)

// The operator's language (issue 18). The catalogues are go-i18n JSON files,
// one per language, named by its BCP 47 tag: web/i18n/en.json, ko.json. They
// live under web/ so that one file feeds both readers: the tray loads them
// into Fyne's lang package (lang.AddTranslationsFS wants [prefix.]tag.json),
// and the bridge serves them as static files at /i18n/<tag>.json for the
// diagnostics page, which reads the "page." keys. Each catalogue has the
// same keys (assets/i18n_test.go checks it, and that every key is used).

// TranslationsDir is the catalogues' folder in Web.
const TranslationsDir = "web/i18n"

// SourceLanguage is the language the code's fallback strings are in, and
// the one to show when the operator's is not translated.
const SourceLanguage = "en"

// Languages lists the tags of the embedded catalogues, sorted: "en", "ko".
func Languages() []string {
	entries, err := fs.ReadDir(Web, TranslationsDir)
	if err != nil {
		panic(err) // the embed pattern guarantees the directory
	}
	var tags []string
	for _, e := range entries {
		if tag, ok := strings.CutSuffix(e.Name(), ".json"); ok && !e.IsDir() {
			tags = append(tags, tag)
		}
	}
	slices.Sort(tags)
	return tags
}

// Catalogue returns the JSON catalogue of language tag, e.g. "ko".
func Catalogue(tag string) ([]byte, error) {
	if !slices.Contains(Languages(), tag) {
		return nil, fmt.Errorf("no catalogue for language %q: the choices are %s", tag, strings.Join(Languages(), ", "))
	}
	return fs.ReadFile(Web, TranslationsDir+"/"+tag+".json")
}
