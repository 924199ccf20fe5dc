package dicomscan

import (
	"testing"

	"github.com/bildbote/bildbote/internal/testkit/corpus"
)

// findInstance returns the instance at path p and its patient, or nils.
func findInstance(ix *Index, p string) (*Patient, *Study, *Series, *Instance) {
	for _, pa := range ix.Patients {
		for _, st := range pa.Studies {
			for _, se := range st.Series {
				for _, in := range se.Instances {
					if in.Path == p {
						return pa, st, se, in
					}
				}
			}
		}
	}
	return nil, nil, nil, nil
}

func skippedCode(ix *Index, p string) string {
	for _, s := range ix.Skipped {
		if s.Path == p {
			return s.Code
		}
	}
	return ""
}

func TestScanCharsetFolder(t *testing.T) {
	ix := scanMedium(t, Options{}, corpus.PydicomCharsetFiles(t))
	if ix.Method != MethodScan {
		t.Errorf("method %q, want scan (no DICOMDIR)", ix.Method)
	}
	pa, _, _, in := findInstance(ix, "chrGerm.dcm")
	if pa == nil {
		t.Fatalf("chrGerm.dcm not indexed; skipped: %v", ix.Skipped)
	}
	if pa.Name != "Äneas^Rüdiger" {
		t.Errorf("chrGerm name %q, want Äneas^Rüdiger", pa.Name)
	}
	if in.CharacterSet != "ISO_IR 100" {
		t.Errorf("character set %q", in.CharacterSet)
	}
	if got := skippedCode(ix, "FileInfo.txt"); got != SkipClutter {
		t.Errorf("FileInfo.txt skipped as %q, want clutter", got)
	}
	if len(ix.Patients) < 2 || ix.Warnings == nil {
		t.Errorf("several patients expected with a warning, got %d patients, warnings %v", len(ix.Patients), ix.Warnings)
	}
}
