package i18n

import (
	"fmt"
	"strconv"
	"strings"
)

// Localizer is a message argument that reads differently per language
// (a size: "1.5 MB" / "1,5 MB"). T formats it for the message's language,
// so an error made before the reader's language is known still reads
// right in both.
type Localizer interface {
	Localize(lang Lang) string
}

// Bytes is a size for a message ("%s"): decimal units, one digit after
// the separator, the separator of the language. String is the English
// form.
type Bytes int64

// Localize implements Localizer.
func (b Bytes) Localize(lang Lang) string {
	n := int64(b)
	if n < 1000 && n > -1000 {
		return fmt.Sprintf("%d B", n)
	}
	units := []string{"kB", "MB", "GB", "TB", "PB"}
	v := float64(n)
	u := -1
	for (v >= 1000 || v <= -1000) && u < len(units)-1 {
		v /= 1000
		u++
	}
	s := fmt.Sprintf("%.1f %s", v, units[u])
	if lang != EN {
		s = strings.Replace(s, ".", ",", 1)
	}
	return s
}

func (b Bytes) String() string { return b.Localize(EN) }

// localizeArgs renders the Localizer arguments for lang.
func localizeArgs(lang Lang, args []any) []any {
	out := args
	for i, a := range args {
		l, ok := a.(Localizer)
		if !ok {
			continue
		}
		if &out[0] == &args[0] {
			out = append([]any(nil), args...)
		}
		out[i] = l.Localize(lang)
	}
	return out
}

// Phrase is a message argument that is itself a catalog key ("%s" of
// another message: a translated reason or term).
type Phrase string

// Localize implements Localizer.
func (p Phrase) Localize(lang Lang) string { return T(lang, string(p)) }

// Quote shows an untrusted name (from a server, an archive, a sender) in
// a message: quoted, control and formatting characters (bidi overrides
// included) escaped, cut to 80 characters.
func Quote(s string) string {
	r := []rune(strings.ToValidUTF8(s, "\uFFFD"))
	if len(r) > 80 {
		return strconv.Quote(string(r[:80])) + "…"
	}
	return strconv.Quote(string(r))
}
