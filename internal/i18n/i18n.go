// Package i18n translates every user-facing string of Bildbote into German
// (the default) and English.
//
// Messages live in JSON catalogs under catalog/, one file per domain and
// language (send.de.json, send.en.json, ...), so that each part of the
// program owns its own strings. A key must exist in every language: the
// package test fails otherwise. Arguments are formatted with fmt verbs.
//
// The package has no dependency on Fyne: the CLI, the portal and the GUI
// share it.
package i18n

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"
	"sync"
)

// Lang is a supported user interface language.
type Lang string

// The supported languages. German comes first: it is the default.
const (
	DE Lang = "de"
	EN Lang = "en"
)

// Langs lists every supported language, the default first.
var Langs = []Lang{DE, EN}

//go:embed catalog/*.json
var catalogFS embed.FS

var (
	loadOnce sync.Once
	catalogs map[Lang]map[string]string
	loadErr  error
)

func load() {
	catalogs = map[Lang]map[string]string{}
	for _, l := range Langs {
		catalogs[l] = map[string]string{}
	}
	files, err := fs.Glob(catalogFS, "catalog/*.json")
	if err != nil {
		loadErr = err
		return
	}
	for _, f := range files {
		if err := loadFile(f); err != nil {
			loadErr = err
			return
		}
	}
}

func loadFile(name string) error {
	base := strings.TrimSuffix(path.Base(name), ".json")
	dot := strings.LastIndexByte(base, '.')
	if dot < 0 {
		return fmt.Errorf("i18n: catalog %s: name must be DOMAIN.LANG.json", name)
	}
	lang := Lang(base[dot+1:])
	cat, ok := catalogs[lang]
	if !ok {
		return fmt.Errorf("i18n: catalog %s: unsupported language %q", name, lang)
	}
	data, err := catalogFS.ReadFile(name)
	if err != nil {
		return err
	}
	var entries map[string]string
	if err := json.Unmarshal(data, &entries); err != nil {
		return fmt.Errorf("i18n: catalog %s: %w", name, err)
	}
	for k, v := range entries {
		if _, dup := cat[k]; dup {
			return fmt.Errorf("i18n: catalog %s: key %q defined twice", name, k)
		}
		cat[k] = v
	}
	return nil
}

func catalog() (map[Lang]map[string]string, error) {
	loadOnce.Do(load)
	return catalogs, loadErr
}

// T returns the message for key in lang, formatted with args. An unknown
// language falls back to German; an unknown key returns the key itself so a
// missing translation is visible, never an empty label. Arguments that
// are a Localizer (Bytes) are rendered for lang.
func T(lang Lang, key string, args ...any) string {
	cats, err := catalog()
	if err != nil {
		panic(err) // catalogs are embedded: a broken one is a build defect
	}
	cat, ok := cats[lang]
	if !ok {
		cat = cats[DE]
	}
	msg, ok := cat[key]
	if !ok {
		msg = key
	}
	if len(args) == 0 {
		return msg
	}
	return fmt.Sprintf(msg, localizeArgs(lang, args)...)
}

// Has reports whether key exists in lang.
func Has(lang Lang, key string) bool {
	cats, err := catalog()
	if err != nil {
		return false
	}
	_, ok := cats[lang][key]
	return ok
}

// Keys returns the sorted keys of lang's catalog.
func Keys(lang Lang) []string {
	cats, err := catalog()
	if err != nil {
		return nil
	}
	keys := make([]string, 0, len(cats[lang]))
	for k := range cats[lang] {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Parse maps a locale string such as "de_DE.UTF-8", "en-GB" or "EN" to a
// supported language; ok is false when it names none.
func Parse(locale string) (Lang, bool) {
	l := strings.ToLower(strings.TrimSpace(locale))
	if i := strings.IndexAny(l, "_-.@"); i >= 0 {
		l = l[:i]
	}
	for _, s := range Langs {
		if l == string(s) {
			return s, true
		}
	}
	return DE, false
}

// Detect returns the user's language: the environment as GNU gettext
// reads it, else the system's user locale (Windows, macOS; see
// SetSystemLocale), German when neither names a supported language.
func Detect() Lang {
	systemMu.Lock()
	system := systemLocale
	systemMu.Unlock()
	return DetectFrom(os.Getenv, system())
}

var (
	systemMu     sync.Mutex
	systemLocale = func() string { return "" }
)

// SetSystemLocale sets where Detect finds the system's user locale when
// the environment names none: on Windows and macOS the desktop's language
// setting is not in LANG. The GUI hands in Fyne's lang.SystemLocale.
func SetSystemLocale(f func() string) {
	systemMu.Lock()
	defer systemMu.Unlock()
	systemLocale = f
}

// DetectFrom is Detect over getenv and a system locale (BCP 47 "de-DE"
// or POSIX "de_DE.UTF-8"; "" for none), in GNU gettext's order:
//
//  1. LANGUAGE, a priority list such as "en:de" — unless the locale
//     below is C or POSIX, where gettext ignores it;
//  2. the locale: the first set of LC_ALL, LC_MESSAGES, LANG;
//  3. the system's user locale, when the environment sets no locale or
//     only C/POSIX (a Windows or macOS desktop, a service);
//
// and German when none of them names a supported language.
func DetectFrom(getenv func(string) string, system string) Lang {
	locale := ""
	for _, v := range []string{"LC_ALL", "LC_MESSAGES", "LANG"} {
		if locale = strings.TrimSpace(getenv(v)); locale != "" {
			break
		}
	}
	plain := locale == "" || locale == "C" || locale == "POSIX" || strings.HasPrefix(locale, "C.")
	if !plain || locale == "" {
		for _, part := range strings.Split(getenv("LANGUAGE"), ":") {
			if l, ok := Parse(part); ok {
				return l
			}
		}
	}
	if !plain {
		l, _ := Parse(locale) // an unsupported locale is German
		return l
	}
	if l, ok := Parse(system); ok {
		return l
	}
	return DE
}
