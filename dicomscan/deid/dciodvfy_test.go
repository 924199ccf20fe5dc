package deid

import (
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// validatorErrors returns the normalised "Error" lines dciodvfy prints for
// a file (values in them are dropped: they differ by design).
func validatorErrors(t *testing.T, path string) map[string]bool {
	t.Helper()
	out, _ := exec.Command("dciodvfy", path).CombinedOutput()
	errs := map[string]bool{}
	for _, l := range strings.Split(string(out), "\n") {
		if !strings.HasPrefix(l, "Error") {
			continue
		}
		errs[normaliseError(l)] = true
	}
	return errs
}

var valueInError = regexp.MustCompile(`"[^"]*"|\[[^\]]*\]|=[^ ]*|[0-9][0-9.]*`)

func normaliseError(l string) string {
	// Keep the element names (in <...>), drop values and numbers.
	return valueInError.ReplaceAllString(l, "#")
}

// TestValidatorsNoNewErrors: dcmdump parses every output whose input it
// parses, and dciodvfy reports no error on an output that it did not
// report on the input.
func TestValidatorsNoNewErrors(t *testing.T) {
	for _, tool := range []string{"dciodvfy", "dcmdump"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed (scripts/deps.sh test installs dicom3tools and dcmtk)", tool)
		}
	}
	files := thirdPartyFiles(t)
	for _, o := range optionSets {
		t.Run(o.name, func(t *testing.T) {
			s, err := NewSession(o.opts)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range rewriteAll(t, s, files) {
				name := filepath.Base(p.In)
				if exec.Command("dcmdump", "-q", p.In).Run() == nil {
					if out, err := exec.Command("dcmdump", "-q", p.Out).CombinedOutput(); err != nil {
						t.Errorf("%s: dcmdump fails on the output: %v\n%s", name, err, out)
					}
				}
				before, after := validatorErrors(t, p.In), validatorErrors(t, p.Out)
				if before[normaliseError("Error - Tags out of order - trailing garbage, wrong transfer syntax, or not valid DICOM")] {
					// dciodvfy stops reading such an input early: it has no
					// baseline to compare the output's checks against.
					continue
				}
				var added []string
				for e := range after {
					if !before[e] {
						added = append(added, e)
					}
				}
				sort.Strings(added)
				for _, e := range added {
					t.Errorf("%s: new dciodvfy error: %s", name, e)
				}
			}
		})
	}
}
