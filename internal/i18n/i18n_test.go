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
