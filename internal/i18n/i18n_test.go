package i18n

import (
	"errors"
	"regexp"
	"strings"
	"testing"
)

// Every key must exist in every language, or a user sees a raw key.
func TestCatalogsComplete(t *testing.T) {
	all := map[string]bool{}
	for _, l := range Langs {
		for _, k := range Keys(l) {
			all[k] = true
		}
	}
	if len(all) == 0 {
		t.Fatal("no catalog keys loaded")
	}
	for k := range all {
		for _, l := range Langs {
			if !Has(l, k) {
				t.Errorf("key %q missing in %s", k, l)
			}
		}
	}
}

var verb = regexp.MustCompile(`%[-+# 0-9.]*[a-zA-Z%]`)

// A translation must take the same arguments as the original.
func TestCatalogsSameVerbs(t *testing.T) {
	for _, k := range Keys(DE) {
		de := strings.Join(verb.FindAllString(T(DE, k), -1), " ")
		en := strings.Join(verb.FindAllString(T(EN, k), -1), " ")
		if de != en {
			t.Errorf("key %q: verbs differ: de %q, en %q", k, de, en)
		}
	}
}

func TestParseAndDetect(t *testing.T) {
	for in, want := range map[string]Lang{"de_DE.UTF-8": DE, "en_GB.UTF-8": EN, "EN": EN, "en-US": EN} {
		if got, ok := Parse(in); !ok || got != want {
			t.Errorf("Parse(%q) = %v, %v; want %v", in, got, ok, want)
		}
	}
	if _, ok := Parse("fr_FR"); ok {
		t.Error("Parse(fr_FR) claims support")
	}
	for _, v := range []string{"LC_ALL", "LC_MESSAGES", "LANGUAGE", "LANG"} {
		t.Setenv(v, "")
	}
	t.Setenv("LANG", "en_US.UTF-8")
	if Detect() != EN {
		t.Error("LANG=en_US.UTF-8 not detected as English")
	}
	t.Setenv("LC_ALL", "fr_FR.UTF-8")
	if Detect() != DE {
		t.Error("unsupported LC_ALL must fall back to German")
	}
}

func TestUserError(t *testing.T) {
	cause := errors.New("boom")
	err := error(NewError(KindTransient, "common.unexpected", "x").WithHint("common.cancelled").Wrap(cause))
	ue, ok := AsUserError(err)
	if !ok || ue.Kind != KindTransient {
		t.Fatalf("AsUserError = %v, %v", ue, ok)
	}
	if !errors.Is(err, cause) {
		t.Error("cause not unwrapped")
	}
	msg, hint := Localize(DE, err)
	if msg != "Unerwarteter Fehler: x" || hint != "Abgebrochen." {
		t.Errorf("Localize(DE) = %q, %q", msg, hint)
	}
	if got := T(EN, "no.such.key"); got != "no.such.key" {
		t.Errorf("unknown key gives %q", got)
	}
}

// DetectFrom follows GNU gettext: LANGUAGE first (unless the locale is
// C/POSIX), then LC_ALL, LC_MESSAGES, LANG; the system's user locale
// (Windows, macOS) when the environment names no locale.
func TestDetectPrecedence(t *testing.T) {
	for _, tc := range []struct {
		env    map[string]string
		system string
		want   Lang
	}{
		{map[string]string{"LANG": "de_DE.UTF-8"}, "", DE},
		{map[string]string{"LANG": "en_GB.UTF-8"}, "", EN},
		{map[string]string{"LANG": "de_DE.UTF-8", "LC_ALL": "en_US.UTF-8"}, "", EN},
		{map[string]string{"LANG": "en_US.UTF-8", "LC_MESSAGES": "de_DE.UTF-8"}, "", DE},
		{map[string]string{"LC_ALL": "en_US.UTF-8", "LC_MESSAGES": "de_DE.UTF-8"}, "", EN},
		{map[string]string{"LANG": "de_DE.UTF-8", "LANGUAGE": "en_US:en"}, "", EN}, // Ubuntu: English UI, German formats
		{map[string]string{"LC_ALL": "de_DE.UTF-8", "LANGUAGE": "en"}, "", EN},
		{map[string]string{"LANG": "fr_FR.UTF-8", "LANGUAGE": "fr:en"}, "", EN},
		{map[string]string{"LANG": "C", "LANGUAGE": "en"}, "", DE}, // gettext ignores LANGUAGE under C
		{map[string]string{"LANG": "C.UTF-8"}, "en-US", EN},        // a service with C: the user's locale
		{map[string]string{"LANG": "fr_FR.UTF-8"}, "en-US", DE},    // unsupported: German, not the system's
		{map[string]string{}, "en-GB", EN},                         // Windows / macOS: no LANG
		{map[string]string{}, "de-AT", DE},
		{map[string]string{}, "", DE},
		{map[string]string{"LANGUAGE": "en"}, "de-DE", EN},
	} {
		got := DetectFrom(func(k string) string { return tc.env[k] }, tc.system)
		if got != tc.want {
			t.Errorf("DetectFrom(%v, %q) = %s, want %s", tc.env, tc.system, got, tc.want)
		}
	}
	SetSystemLocale(func() string { return "en-US" })
	defer SetSystemLocale(func() string { return "" })
	for _, v := range []string{"LC_ALL", "LC_MESSAGES", "LANGUAGE", "LANG"} {
		t.Setenv(v, "")
	}
	if Detect() != EN {
		t.Error("Detect ignores the system locale when the environment names none")
	}
}

// A Bytes argument is rendered in the message's language, also when the
// error was made before the language was known.
func TestBytesArgument(t *testing.T) {
	err := NewError(KindRefused, "common.unexpected", Bytes(1_536_000))
	if got := err.Message(DE); got != "Unerwarteter Fehler: 1,5 MB" {
		t.Errorf("DE: %q", got)
	}
	if got := err.Message(EN); !strings.HasSuffix(got, ": 1.5 MB") {
		t.Errorf("EN: %q", got)
	}
	for n, want := range map[int64]string{999: "999 B", 1000: "1.0 kB", 64 << 30: "68.7 GB", 3 << 40: "3.3 TB"} {
		if got := Bytes(n).String(); got != want {
			t.Errorf("Bytes(%d) = %q, want %q", n, got, want)
		}
	}
	args := []any{Bytes(2000), "x"}
	T(DE, "common.unexpected", args...)
	if args[0] != Bytes(2000) {
		t.Error("T changed the caller's arguments")
	}
}
