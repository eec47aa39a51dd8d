package tray

import (
	"cmp"
	"fmt"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/lang"

	"orionbridge/assets"
	_ "orionbridge/internal/locale" // before Fyne reads the locale, in tests too: see its doc
)

// The operator's language (issue 18). Every string the operator sees goes
// through Fyne's lang package: lang.X with a key from the catalogues in
// assets/web/i18n and the English text as fallback. Counts are template
// logic in the message ({{if eq .Count 1}}session{{else}}sessions{{end}};
// Korean needs none), not lang.XN: go-i18n picks a plural form by the rule
// of the tag a catalogue is registered under, which, with a language
// chosen in the config, is not the catalogue's own (see below).
// The command line, the logs and the support bundle stay English: they are
// read by IT and by scripts, and they never pass through here.
//
// Fyne v2.7.1 picks the language itself: at every AddTranslations it
// matches the system's preferred locales (go-locale: LANGUAGE, else
// LC_ALL, LC_MESSAGES or LANG on Linux; the user's UI languages on Windows
// and macOS)
// against the catalogues it holds, its own (cs, de, fr, …: the file
// dialogs' words) and ours, and it has no call to choose one instead. And
// when the match lands on a catalogue that lacks a key, go-i18n answers
// with an error, so Fyne logs "Translation failure" and shows the code's
// fallback, for every string. So the config's language key works through
// what is registered under which tag:
//   - each of our tags gets its own catalogue, or with a language chosen,
//     the chosen one;
//   - the system's language, when it is not ours (a French system), gets
//     English, or the chosen one: the match may land there, as Fyne has
//     French, and every key must then be found.
//
// The file dialogs, which are Fyne's, still follow the system.
// Registering again replaces a tag's messages, so useLanguage may be
// called again, as the tests do.
func useLanguage(choice string) error {
	source := map[string]string{}
	for _, tag := range assets.Languages() {
		source[tag] = cmp.Or(choice, tag)
	}
	// The base language: "fr" of "fr-FR", as Fyne's own catalogues are.
	system, _, _ := strings.Cut(lang.SystemLocale().String(), "-")
	if source[system] == "" {
		source[system] = cmp.Or(choice, assets.SourceLanguage)
	}
	for tag, from := range source {
		data, err := assets.Catalogue(from)
		if err != nil {
			return fmt.Errorf("language %q from the config: %w", choice, err)
		}
		if err := lang.AddTranslationsForLocale(data, fyne.Locale(tag)); err != nil {
			return fmt.Errorf("load the %s catalogue as %s: %w", from, tag, err)
		}
	}
	return nil
}
