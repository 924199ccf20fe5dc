package deid

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSetConsistency: the files of one send keep their relations. The
// augmented CT files are one instance written in four encodings, the MR
// ones another patient's: within the session the same study, series and
// instance map to the same new UIDs in every encoding, the references
// inside them resolve to the new SOP Instance UIDs, and each patient's
// dates move by that patient's own offset.
func TestSetConsistency(t *testing.T) {
	files := augmented(t)
	s, err := NewSession(Options{Dates: DatesShift})
	if err != nil {
		t.Fatal(err)
	}
	pairs := rewriteAll(t, s, files)
	rep := runChecker(t, Options{Dates: DatesShift}, pairs)
	for _, f := range rep.Failures {
		t.Error(f)
	}
	if rep.Counts["reference-resolved"] < 8 {
		t.Errorf("only %d references checked", rep.Counts["reference-resolved"])
	}
	m := s.Mapping()
	if len(m.Patients) != 2 {
		t.Fatalf("patients %+v", m.Patients)
	}
	byPatient := map[string][]string{}
	for _, p := range pairs {
		b, _ := os.ReadFile(p.Out)
		f, err := parseFile(b)
		if err != nil {
			t.Fatal(err)
		}
		byPatient[p.Pseudonym] = append(byPatient[p.Pseudonym], str(f.ds, tStudyInstanceUID)+" "+str(f.ds, 0x00080020))
	}
	for _, p := range m.Patients {
		got := byPatient[p.NewPatientName]
		if len(got) != 4 {
			t.Fatalf("%s: %d files", p.NewPatientName, len(got))
		}
		for _, g := range got[1:] {
			if g != got[0] {
				t.Errorf("%s: study UID and date differ between encodings: %q vs %q", p.NewPatientName, g, got[0])
			}
		}
		if p.DateShiftDays > -30 || p.DateShiftDays < -3650 {
			t.Errorf("shift %d days outside the documented range", p.DateShiftDays)
		}
	}
	if m.Patients[0].NewPatientName == m.Patients[1].NewPatientName {
		t.Error("two patients share a pseudonym")
	}
}

// TestStudyUIDAcrossSessions: another send maps the same study elsewhere.
func TestStudyUIDAcrossSessions(t *testing.T) {
	a, err := NewSession(Options{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewSession(Options{})
	if err != nil {
		t.Fatal(err)
	}
	first, again := a.NewUID("1.2.3.4"), a.NewUID("1.2.3.4")
	if first == b.NewUID("1.2.3.4") || first != again {
		t.Error("UIDs must be stable in a session and differ between sessions")
	}
	if u := a.NewUID("1.2.840.113619.2.1.1.322987881.621.736170080.681"); len(u) > 64 || !strings.HasPrefix(u, "2.25.") {
		t.Errorf("new UID %q", u)
	}
}

func TestDateShiftValues(t *testing.T) {
	s, _ := NewSession(Options{Dates: DatesShift, DateShiftDays: -10})
	r := &run{s: s, res: &Result{}, pat: &PatientMapping{DateShiftDays: -10}}
	for _, c := range []struct{ vr, in, want string }{
		{"DA", "20200305", "20200224"},
		{"DA", "20200305\\20210101", "20200224\\20201222"},
		{"DA", "20200305-20200310", "20200224-20200229"},
		{"DT", "20200305101112.5+0100", "20200224101112.5+0100"},
		{"DT", "20200305101112-0500", "20200224101112-0500"},
		{"DA", "2020", ""},
		{"DA", "1997.04.28", ""},
	} {
		el := &element{tag: 0x00080020, vr: c.vr, value: []byte(c.in)}
		r.shift(el, "")
		if got := strings.TrimRight(string(el.value), " "); got != c.want {
			t.Errorf("shift %s %q = %q, want %q", c.vr, c.in, got, c.want)
		}
	}
}

func TestWarnings(t *testing.T) {
	needPydicomFiles(t)
	s, _ := NewSession(Options{})
	res, err := s.Rewrite(pydicomFiles+"/test_files/ExplVR_BigEnd.dcm", &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if !hasWarning(res, "burned-in-modality") {
		t.Errorf("US: warnings %+v", res.Warnings)
	}
	res, err = s.Rewrite(pydicomFiles+"/test_files/SC_rgb_rle.dcm", &bytes.Buffer{})
	if err != nil || !hasWarning(res, "burned-in-modality") {
		t.Errorf("secondary capture: %+v %v", res.Warnings, err)
	}
	res, _ = s.Rewrite(pydicomFiles+"/test_files/CT_small.dcm", &bytes.Buffer{})
	if len(res.Warnings) != 0 {
		t.Errorf("CT: warnings %+v", res.Warnings)
	}
	// The same CT with Burned In Annotation YES.
	b, _ := os.ReadFile(pydicomFiles + "/test_files/CT_small.dcm")
	f, err := parseFile(b)
	if err != nil {
		t.Fatal(err)
	}
	setElement(f.ds, &element{tag: tBurnedInAnnotation, vr: "CS", value: []byte("YES ")})
	var buf bytes.Buffer
	if err := writeFile(&buf, f); err != nil {
		t.Fatal(err)
	}
	res, err = s.RewriteBytes(buf.Bytes(), &bytes.Buffer{})
	if err != nil || !hasWarning(res, "burned-in-annotation") {
		t.Errorf("burned-in YES: %+v %v", res.Warnings, err)
	}
}

func hasWarning(r Result, code string) bool {
	for _, w := range r.Warnings {
		if w.Code == code {
			return true
		}
	}
	return false
}

// TestPseudonymCharsets: a pseudonym with umlauts is written in the file's
// character set (pydicom reads it back), refused where it cannot be.
func TestPseudonymCharsets(t *testing.T) {
	needPydicomFiles(t)
	const p = "Zweitmeinung-Müller"
	dir := t.TempDir()
	var pairs []checkPair
	for _, c := range []struct {
		file string
		ok   bool
	}{
		{"charset_files/chrGerm.dcm", true},  // ISO_IR 100
		{"charset_files/chrX1.dcm", true},    // ISO_IR 192
		{"charset_files/chrGreek.dcm", true}, // ISO_IR 126: Latin letters only ... ü is not in it
		{"test_files/CT_small.dcm", true},    // ISO_IR 100
		{"charset_files/chrH31.dcm", false},  // ISO 2022 IR 87: ASCII pseudonyms only
	} {
		s, _ := NewSession(Options{Pseudonym: p})
		out := filepath.Join(dir, filepath.Base(c.file))
		w, _ := os.Create(out)
		res, err := s.Rewrite(pydicomFiles+"/"+c.file, w)
		w.Close()
		if c.file == "charset_files/chrGreek.dcm" {
			// ü is not in ISO 8859-7.
			if !errors.Is(err, ErrPseudonym) {
				t.Errorf("%s: %v, want ErrPseudonym", c.file, err)
			}
			continue
		}
		if c.ok != (err == nil) {
			t.Errorf("%s: err %v", c.file, err)
			continue
		}
		if !c.ok {
			if !errors.Is(err, ErrPseudonym) {
				t.Errorf("%s: %v, want ErrPseudonym", c.file, err)
			}
			continue
		}
		if res.PatientName != p {
			t.Errorf("%s: result name %q", c.file, res.PatientName)
		}
		pairs = append(pairs, checkPair{In: pydicomFiles + "/" + c.file, Out: out, Pseudonym: p})
	}
	for _, pair := range pairs {
		rep := runChecker(t, Options{Pseudonym: p}, []checkPair{pair})
		for _, f := range rep.Failures {
			t.Error(f)
		}
		if rep.Counts["pseudonym"] < 2 {
			t.Errorf("%s: pseudonym checked %d times", pair.In, rep.Counts["pseudonym"])
		}
	}
	if _, err := NewSession(Options{Pseudonym: "a\\b"}); !errors.Is(err, ErrPseudonym) {
		t.Errorf("backslash accepted: %v", err)
	}
}

func TestPreviewAndRefusals(t *testing.T) {
	needPydicomFiles(t)
	res, err := Preview(pydicomFiles+"/test_files/CT_small.dcm", Options{Pseudonym: "P1"})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, c := range res.Changes {
		if c.Tag == tPatientName && c.New == "P1" && c.Old != "" && c.Action == "D" {
			found = true
		}
		if c.Action == "" || c.Keyword == "" {
			t.Errorf("change without action or keyword: %+v", c)
		}
	}
	if !found || len(res.Changes) < 10 {
		t.Errorf("preview changes %+v", res.Changes)
	}
	res, err = Preview(pydicomFiles+"/test_files/CT_small.dcm", Options{Dates: DatesShift, DateShiftDays: -1})
	if err != nil {
		t.Fatal(err)
	}
	kw := map[string]Change{}
	for _, c := range res.Changes {
		kw[c.Keyword] = c
	}
	if c := kw["InstanceCreationDate"]; c.Old != "20040119" || c.New != "20040118" || c.Action != "C" {
		t.Errorf("shifted Instance Creation Date: %+v", c)
	}
	if c := kw["StudyInstanceUID"]; c.Action != "U" || !strings.HasPrefix(c.New, "2.25.") {
		t.Errorf("Study Instance UID: %+v", c)
	}
	s, _ := NewSession(Options{})
	if _, err := s.Rewrite(pydicomFiles+"/test_files/dicomdirtests/DICOMDIR", &bytes.Buffer{}); !errors.Is(err, ErrDICOMDIR) {
		t.Errorf("DICOMDIR: %v", err)
	}
	for name := range brokenFiles {
		if _, err := s.Rewrite(pydicomFiles+"/test_files/"+name, &bytes.Buffer{}); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v, want ErrMalformed", name, err)
		}
	}
	m := s.Mapping()
	if m.Created.IsZero() || time.Since(m.Created) > time.Hour || m.Edition != Edition {
		t.Errorf("mapping header %+v", m)
	}
}

// TestConcurrentRewrite: one session used from several goroutines maps
// every UID once.
func TestConcurrentRewrite(t *testing.T) {
	files := thirdPartyFiles(t)
	s, _ := NewSession(Options{Dates: DatesShift})
	type out struct{ study, sop string }
	results := make([][]out, 4)
	done := make(chan int)
	for w := 0; w < 4; w++ {
		go func(w int) {
			for _, f := range files {
				if brokenFiles[filepath.Base(f)] {
					continue
				}
				res, err := s.Rewrite(f, &bytes.Buffer{})
				if err != nil {
					continue
				}
				results[w] = append(results[w], out{res.StudyUID, res.SOPInstanceUID})
			}
			done <- w
		}(w)
	}
	for range 4 {
		<-done
	}
	for w := 1; w < 4; w++ {
		if len(results[w]) != len(results[0]) {
			t.Fatalf("worker %d: %d results, worker 0: %d", w, len(results[w]), len(results[0]))
		}
		for i := range results[w] {
			if results[w][i] != results[0][i] {
				t.Errorf("file %d: %v vs %v", i, results[w][i], results[0][i])
			}
		}
	}
	if len(s.Mapping().Patients) == 0 {
		t.Error("no patients recorded")
	}
}
