package transfer_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/bildbote/bildbote/internal/i18n"
)

// Every catalog key the transfer packages name in their code must exist
// in every language, or a user sees a raw key.
func TestCatalogKeysExist(t *testing.T) {
	key := regexp.MustCompile(`"(transfer\.[a-z0-9_.]+[a-z0-9_])"`)
	found := 0
	err := filepath.WalkDir(".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return err
		}
		src, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, m := range key.FindAllStringSubmatch(string(src), -1) {
			found++
			for _, l := range i18n.Langs {
				if !i18n.Has(l, m[1]) {
					t.Errorf("%s: key %q missing in %s catalog", p, m[1], l)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if found == 0 {
		t.Fatal("no catalog keys found: the pattern is broken")
	}
}
