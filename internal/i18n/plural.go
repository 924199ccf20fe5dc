package i18n

// N is T for a message about n things: the key KEY.one when n is 1 and
// the catalog has it ("1 Datei"), KEY otherwise ("%d Dateien"). Both
// languages must have the same keys (the package test checks it).
func N(lang Lang, key string, n int, args ...any) string {
	if n == 1 && Has(lang, key+".one") {
		return T(lang, key+".one", args...)
	}
	return T(lang, key, args...)
}
