package gencd

import (
	"path/filepath"
	"regexp"
	"testing"

	"github.com/bildbote/bildbote/internal/testkit/validate"
)

func TestDistribute(t *testing.T) {
	weights := seriesWeights(catalogue())
	for _, total := range []int{MinFiles, 11, 30, 2000, 20000, 99999} {
		counts := distribute(total, weights)
		sum := 0
		for i, n := range counts {
			if n < 1 {
				t.Errorf("total %d: series %d gets %d files", total, i, n)
			}
			sum += n
		}
		if sum != total {
			t.Errorf("total %d: shares add up to %d", total, sum)
		}
	}
}

func TestUIDs(t *testing.T) {
	valid := regexp.MustCompile(`^2\.25\.[1-9][0-9]*$`)
	seen := map[string]bool{}
	for _, seed := range []int64{0, 1, -5} {
		for _, name := range []string{"a", "b", "study/0/0"} {
			u := uidFrom(seed, name)
			if !valid.MatchString(u) || len(u) > 64 {
				t.Errorf("uid %q is not a valid 2.25 UID", u)
			}
			if seen[u] {
				t.Errorf("uid %q repeats", u)
			}
			seen[u] = true
			if uidFrom(seed, name) != u {
				t.Errorf("uid for %d/%s not deterministic", seed, name)
			}
		}
	}
}

func TestDecimalStrings(t *testing.T) {
	for v, want := range map[float64]string{
		0: "0", -0.0000001: "0", 1: "1", -1024: "-1024", 0.7421875: "0.742188",
		-189.62890625: "-189.628906", 123456789.123456: "123456789.123456",
		1234567890123.5: "1234567890123.5",
	} {
		if got := ds(v); got != want || len(got) > 16 {
			t.Errorf("ds(%v) = %q, want %q", v, got, want)
		}
	}
}

func TestLatin1(t *testing.T) {
	if got := string(latin1("Müller^Jürgen ß")); got != "M\xfcller^J\xfcrgen \xdf" {
		t.Errorf("latin1 = %q", got)
	}
	defer func() {
		if recover() == nil {
			t.Error("latin1 accepted a character outside ISO 8859-1")
		}
	}()
	latin1("Zoë €")
}

func TestTinyMatrices(t *testing.T) {
	for _, n := range []int{1, 3} {
		res, err := Generate(t.TempDir(), Options{Files: MinFiles, PixelSize: n})
		if err != nil {
			t.Fatalf("pixel size %d: %v", n, err)
		}
		// One file per series at this count: validate them all.
		for _, in := range res.AllInstances() {
			validate.File(t, filepath.Join(res.Dir, filepath.FromSlash(in.Path)))
		}
	}
}
