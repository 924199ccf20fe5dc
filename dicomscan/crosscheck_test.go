package dicomscan

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/suyashkumar/dicom"
	"github.com/suyashkumar/dicom/pkg/tag"

	"github.com/bildbote/bildbote/internal/gencd"
	"github.com/bildbote/bildbote/internal/testkit/corpus"
)

// TestHeaderAgreesWithSuyashkumarDicom cross-checks our header reader with
// an independent Go parser (github.com/suyashkumar/dicom, which reads the
// whole file and so is no use for scanning, but is a fine second opinion)
// on third-party and generated files. ASCII values only: that library
// does not decode Specific Character Set below the top level.
func TestHeaderAgreesWithSuyashkumarDicom(t *testing.T) {
	files := []string{
		corpus.PydicomFile(t, "CT_small.dcm"),
		corpus.PydicomFile(t, "MR_small.dcm"),
		corpus.PydicomFile(t, "JPEG2000.dcm"),
		corpus.PydicomFile(t, "rtplan.dcm"),
		corpus.Dicom3toolsExample(t),
	}
	cd := t.TempDir()
	res, err := gencd.Generate(cd, gencd.Options{Files: 10, PixelSize: 16, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range res.AllInstances() {
		files = append(files, filepath.Join(cd, filepath.FromSlash(in.Path)))
	}
	fields := []struct {
		tag  tag.Tag
		ours func(*Header) string
	}{
		{tag.SOPInstanceUID, func(h *Header) string { return h.SOPInstanceUID }},
		{tag.SOPClassUID, func(h *Header) string { return h.SOPClassUID }},
		{tag.StudyInstanceUID, func(h *Header) string { return h.StudyInstanceUID }},
		{tag.SeriesInstanceUID, func(h *Header) string { return h.SeriesInstanceUID }},
		{tag.PatientID, func(h *Header) string { return h.PatientID }},
		{tag.Modality, func(h *Header) string { return h.Modality }},
		{tag.StudyDate, func(h *Header) string { return h.StudyDate }},
		{tag.StudyID, func(h *Header) string { return h.StudyID }},
	}
	compared := 0
	for _, path := range files {
		ours := readHeaderFile(t, path)
		theirs, err := dicom.ParseFile(path, nil, dicom.SkipPixelData())
		if err != nil {
			t.Fatalf("suyashkumar/dicom %s: %v", path, err)
		}
		for _, f := range fields {
			el, err := theirs.FindElementByTag(f.tag)
			want := ""
			if err == nil {
				if v, ok := el.Value.GetValue().([]string); ok && len(v) > 0 {
					want = v[0]
				}
			}
			if got := f.ours(ours); got != want {
				t.Errorf("%s %v: ours %q, suyashkumar/dicom %q", filepath.Base(path), f.tag, got, want)
			} else if want != "" {
				compared++
			}
		}
	}
	// Most values exist in most files: an empty-vs-empty pass proves nothing.
	if compared < len(files)*len(fields)*3/4 {
		t.Errorf("only %d non-empty values agreed over %d files", compared, len(files))
	}
}

func readHeaderFile(t *testing.T, path string) *Header {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	h, err := ReadHeader(f, st.Size())
	if err != nil {
		t.Fatalf("ReadHeader %s: %v", path, err)
	}
	return h
}
