package deid

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

const python = "/usr/bin/python3" // Debian's pydicom needs Debian's interpreter

type checkPair struct {
	In        string `json:"in"`
	Out       string `json:"out"`
	Shift     int    `json:"shift"`
	Pseudonym string `json:"pseudonym"`
}

type checkReport struct {
	Failures []string       `json:"failures"`
	Counts   map[string]int `json:"counts"`
	Rows     []string       `json:"rows"`
}

// runChecker runs testdata/check_deid.py over the pairs.
func runChecker(t *testing.T, opts Options, pairs []checkPair) checkReport {
	t.Helper()
	table, _ := filepath.Abs("table_e1_1.tsv")
	o := map[string]any{
		"Dates": int(opts.Dates), "KeepPatientCharacteristics": opts.KeepPatientCharacteristics,
		"KeepDeviceIdentity": opts.KeepDeviceIdentity, "CleanDescriptors": opts.CleanDescriptors,
		"KeepUIDs": opts.KeepUIDs, "KeepInstitutionIdentity": opts.KeepInstitutionIdentity,
		"KeepSafePrivate": opts.KeepSafePrivate,
	}
	req, _ := json.Marshal(map[string]any{"table": table, "options": o, "pairs": pairs})
	rp := filepath.Join(t.TempDir(), "req.json")
	if err := os.WriteFile(rp, req, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(python, "testdata/check_deid.py", "check", rp).Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("check_deid.py: %v\n%s", err, stderr)
	}
	var rep checkReport
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("checker output: %v\n%s", err, out)
	}
	return rep
}

// thirdPartyFiles lists pydicom's test and character set files that are
// DICOM files the engine accepts (the deliberately broken ones are tested
// in TestRejectsBroken).
func thirdPartyFiles(t *testing.T) []string {
	needPydicomFiles(t)
	var files []string
	for _, pat := range []string{"/test_files/*.dcm", "/charset_files/*.dcm"} {
		m, _ := filepath.Glob(pydicomFiles + pat)
		files = append(files, m...)
	}
	return files
}

var brokenFiles = map[string]bool{
	"MR_truncated.dcm": true, "rtplan_truncated.dcm": true, "no_meta.dcm": true,
}

var optionSets = []struct {
	name string
	opts Options
}{
	{"basic", Options{}},
	{"full-dates", Options{Dates: DatesKeep, KeepPatientCharacteristics: true}},
	{"shifted-dates", Options{Dates: DatesShift, DateShiftDays: -400, CleanDescriptors: true, KeepDeviceIdentity: true}},
	{"keep-uids", Options{KeepUIDs: true, KeepInstitutionIdentity: true, KeepSafePrivate: true, Pseudonym: "Zweitmeinung-0427"}},
}

// rewriteAll de-identifies files in one session and returns the pairs.
func rewriteAll(t *testing.T, s *Session, files []string) []checkPair {
	t.Helper()
	dir := t.TempDir()
	var pairs []checkPair
	for i, f := range files {
		out := filepath.Join(dir, strings.ReplaceAll(filepath.Base(f), " ", "_")+"."+strconv.Itoa(i))
		w, err := os.Create(out)
		if err != nil {
			t.Fatal(err)
		}
		res, err := s.Rewrite(f, w)
		w.Close()
		if brokenFiles[filepath.Base(f)] {
			if err == nil {
				t.Errorf("%s: broken file accepted", filepath.Base(f))
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", filepath.Base(f), err)
			continue
		}
		shift := 0
		for _, p := range s.Mapping().Patients {
			if p.NewPatientName == res.PatientName {
				shift = p.DateShiftDays
			}
		}
		pairs = append(pairs, checkPair{In: f, Out: out, Shift: shift, Pseudonym: res.PatientName})
	}
	return pairs
}

// TestProfileOnThirdPartyFiles de-identifies every pydicom test and
// character set file (every transfer syntax pydicom ships, big endian and
// deflated included) under each option set and has pydicom check every
// attribute against the table.
func TestProfileOnThirdPartyFiles(t *testing.T) {
	files := thirdPartyFiles(t)
	for _, os := range optionSets {
		t.Run(os.name, func(t *testing.T) {
			s, err := NewSession(os.opts)
			if err != nil {
				t.Fatal(err)
			}
			pairs := rewriteAll(t, s, files)
			if len(pairs) < 60 {
				t.Fatalf("only %d files rewritten", len(pairs))
			}
			rep := runChecker(t, os.opts, pairs)
			for _, f := range rep.Failures {
				t.Error(f)
			}
			if rep.Counts["pixel-identical"] < 40 {
				t.Errorf("pixel data compared in only %d files", rep.Counts["pixel-identical"])
			}
			t.Logf("%d files, actions checked: %v, %d table rows seen", len(pairs), rep.Counts, len(rep.Rows))
		})
	}
}

// augmented writes, with pydicom, a third-party file extended by one
// attribute for every row of the table, in each of the four encodings.
func augmented(t *testing.T) []string {
	needPydicomFiles(t)
	dir := t.TempDir()
	table, _ := filepath.Abs("table_e1_1.tsv")
	var out []string
	for _, src := range []string{"CT_small.dcm", "MR_small.dcm"} {
		for _, ts := range []string{tsImplicitLE, tsExplicitLE, tsExplicitBE, tsDeflated} {
			p := filepath.Join(dir, src+"."+ts+".dcm")
			cmd := exec.Command(python, "testdata/check_deid.py", "augment", pydicomFiles+"/test_files/"+src, p, ts, table)
			if b, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("augment %s %s: %v\n%s", src, ts, err, b)
			}
			out = append(out, p)
		}
	}
	return out
}

// TestEveryTableRow checks every row of Table E.1-1 under every option set.
func TestEveryTableRow(t *testing.T) {
	files := augmented(t)
	for _, os := range optionSets {
		t.Run(os.name, func(t *testing.T) {
			s, err := NewSession(os.opts)
			if err != nil {
				t.Fatal(err)
			}
			pairs := rewriteAll(t, s, files)
			rep := runChecker(t, os.opts, pairs)
			for _, f := range rep.Failures {
				t.Error(f)
			}
			seen := map[string]bool{}
			for _, r := range rep.Rows {
				seen[r] = true
			}
			var missing []string
			for _, r := range allRows {
				g := strings.Trim(r.Tag, "()")[:4]
				if g == "0000" || g == "0002" {
					continue // command group; (0002,0003) is checked against the SOP Instance UID
				}
				if !seen[r.Tag] {
					missing = append(missing, r.Tag)
				}
			}
			sort.Strings(missing)
			if len(missing) > 0 {
				t.Errorf("rows never checked: %v", missing)
			}
			t.Logf("actions checked: %v", rep.Counts)
		})
	}
}

// TestEveryTableRowEveryFile adds every row of the table to each
// third-party file (with pydicom, in the file's own transfer syntax and
// character set) and checks the rewrite of all of them.
func TestEveryTableRowEveryFile(t *testing.T) {
	if testing.Short() {
		t.Skip("long")
	}
	files := thirdPartyFiles(t)
	var in []string
	for _, f := range files {
		if !brokenFiles[filepath.Base(f)] {
			in = append(in, f)
		}
	}
	dir := t.TempDir()
	table, _ := filepath.Abs("table_e1_1.tsv")
	args := append([]string{"testdata/check_deid.py", "augment-all", dir, table}, in...)
	cmd := exec.Command(python, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("augment-all: %v\n%s", err, stderr.String())
	}
	var done [][2]string
	if err := json.Unmarshal(out, &done); err != nil {
		t.Fatal(err)
	}
	if len(done) < 60 {
		t.Fatalf("only %d of %d files augmented:\n%s", len(done), len(in), stderr.String())
	}
	var aug []string
	tss := map[string]bool{}
	for _, d := range done {
		aug = append(aug, d[1])
		if b, err := os.ReadFile(d[1]); err == nil {
			if f, err := parseFile(b); err == nil {
				tss[f.ts] = true
			}
		}
	}
	if len(tss) < 8 {
		t.Errorf("only %d transfer syntaxes: %v", len(tss), tss)
	}
	o := optionSets[2] // shifted dates and clean descriptors exercise C; basic is TestProfileOnThirdPartyFiles
	for _, o := range []struct {
		name string
		opts Options
	}{optionSets[0], o} {
		t.Run(o.name, func(t *testing.T) {
			s, _ := NewSession(o.opts)
			pairs := rewriteAll(t, s, aug)
			rep := runChecker(t, o.opts, pairs)
			for _, f := range rep.Failures {
				t.Error(f)
			}
			t.Logf("%d files in %d transfer syntaxes, actions checked: %v", len(pairs), len(tss), rep.Counts)
		})
	}
}
