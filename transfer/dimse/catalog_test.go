package dimse

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/bildbote/bildbote/internal/i18n"
)

// Every catalog key the package names must exist in every language.
func TestCatalogKeysExist(t *testing.T) {
	key := regexp.MustCompile(`"(dimse\.[a-z0-9_.]+[a-z0-9_])"`)
	files, _ := filepath.Glob("*.go")
	found := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range key.FindAllStringSubmatch(string(src), -1) {
			found++
			for _, l := range i18n.Langs {
				if !i18n.Has(l, m[1]) {
					t.Errorf("%s: key %q missing in %s", f, m[1], l)
				}
			}
		}
	}
	if found < 10 {
		t.Fatalf("only %d keys found: the pattern is broken", found)
	}
}
