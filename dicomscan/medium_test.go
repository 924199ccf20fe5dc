package dicomscan

import (
	"archive/zip"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/bildbote/bildbote/internal/gencd"
	"github.com/bildbote/bildbote/internal/i18n"
	"github.com/bildbote/bildbote/internal/testkit/corpus"
)

// smallCD writes gencd's synthetic patient CD (2 patients, one Latin-1 and
// one UTF-8, 3 studies, 10 series, 64x64 images, a PDF, clutter and a
// DICOMDIR made by dcmmkdir).
func smallCD(t *testing.T) *gencd.Result {
	t.Helper()
	corpus.Tool(t, "dcmmkdir")
	res, err := gencd.Generate(t.TempDir(), gencd.Options{
		Files: 40, Seed: 3, PixelSize: 64, DICOMDIR: true, Documents: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// checkAgainstGenerator compares an index with what the generator wrote;
// prefix is where the CD's root sits inside the medium.
func checkAgainstGenerator(t *testing.T, ix *Index, res *gencd.Result, prefix string) {
	t.Helper()
	if ix.Files != res.Files || ix.Bytes != res.Bytes {
		t.Errorf("files/bytes %d/%d, want %d/%d", ix.Files, ix.Bytes, res.Files, res.Bytes)
	}
	if len(ix.Patients) != len(res.Patients) {
		t.Fatalf("%d patients, want %d", len(ix.Patients), len(res.Patients))
	}
	for _, want := range res.Patients {
		var got *Patient
		for _, p := range ix.Patients {
			if p.ID == want.ID {
				got = p
			}
		}
		if got == nil {
			t.Errorf("patient %s missing", want.ID)
			continue
		}
		if got.Name != want.Name || got.BirthDate != want.BirthDate || got.Sex != want.Sex {
			t.Errorf("patient %s: %q %s %s, want %q %s %s", want.ID, got.Name, got.BirthDate, got.Sex, want.Name, want.BirthDate, want.Sex)
		}
		if len(got.Studies) != len(want.Studies) {
			t.Errorf("patient %s: %d studies, want %d", want.ID, len(got.Studies), len(want.Studies))
			continue
		}
		for _, ws := range want.Studies {
			var gs *Study
			for _, s := range got.Studies {
				if s.InstanceUID == ws.InstanceUID {
					gs = s
				}
			}
			if gs == nil {
				t.Errorf("study %s missing", ws.InstanceUID)
				continue
			}
			if gs.Description != ws.Description || gs.Date != ws.Date || gs.AccessionNumber != ws.AccessionNumber ||
				gs.Files != ws.Files || gs.Bytes != ws.Bytes || !reflect.DeepEqual(gs.Modalities, ws.Modalities) {
				t.Errorf("study %s: %+v\nwant %+v", ws.InstanceUID, *gs, *ws)
			}
			if len(gs.Series) != len(ws.Series) {
				t.Errorf("study %s: %d series, want %d", ws.InstanceUID, len(gs.Series), len(ws.Series))
				continue
			}
			for i, wse := range ws.Series { // both sorted by series number
				gse := gs.Series[i]
				if gse.InstanceUID != wse.InstanceUID || gse.Number != wse.Number || gse.Modality != wse.Modality ||
					gse.Description != wse.Description || len(gse.Instances) != len(wse.Instances) || gse.Bytes != wse.Bytes {
					t.Errorf("series %d: %s %d %s %q %d files, want %s %d %s %q %d", i, gse.InstanceUID, gse.Number, gse.Modality,
						gse.Description, len(gse.Instances), wse.InstanceUID, wse.Number, wse.Modality, wse.Description, len(wse.Instances))
					continue
				}
				for j, wi := range wse.Instances {
					gi := gse.Instances[j]
					if gi.SOPInstanceUID != wi.SOPInstanceUID || gi.Path != prefix+wi.Path || gi.Size != wi.Size || gi.Number != wi.Number {
						t.Errorf("instance %s: %s %d, want %s %d", wi.SOPInstanceUID, gi.Path, gi.Size, prefix+wi.Path, wi.Size)
					}
				}
			}
		}
	}
	if len(ix.Documents) != len(res.Documents) || (len(res.Documents) > 0 && ix.Documents[0].Path != prefix+res.Documents[0].Path) {
		t.Errorf("documents %v, want %v", ix.Documents, res.Documents)
	}
	for _, c := range res.Clutter {
		if code := skippedCode(ix, prefix+c.Path); code != SkipClutter {
			t.Errorf("%s skipped as %q, want clutter", c.Path, code)
		}
	}
	if !hasWarning(ix, WarnSeveralPatients) {
		t.Errorf("no several-patients warning")
	}
	// Every path opens through the index's medium.
	for _, l := range instanceSet(ix) {
		p := strings.Fields(l)[0]
		f, err := ix.FS().Open(p)
		if err != nil {
			t.Errorf("Index.FS cannot open %s: %v", p, err)
			continue
		}
		f.Close()
	}
}

func scanMedium(t *testing.T, opts Options, paths ...string) *Index {
	t.Helper()
	m, err := Open(paths...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	ix, err := Scan(context.Background(), m, opts)
	if err != nil {
		t.Fatal(err)
	}
	return ix
}

func TestGeneratedCD(t *testing.T) {
	res := smallCD(t)
	t.Run("dicomdir", func(t *testing.T) {
		ix := scanMedium(t, Options{}, res.Dir)
		if ix.Method != MethodDICOMDIR {
			t.Fatalf("method %q, fallback %q", ix.Method, ix.FallbackReason)
		}
		checkAgainstGenerator(t, ix, res, "")
	})
	t.Run("full", func(t *testing.T) {
		ix := scanMedium(t, Options{IgnoreDICOMDIR: true}, res.Dir)
		if ix.Method != MethodScan || ix.FallbackReason != "" {
			t.Fatalf("method %q, fallback %q", ix.Method, ix.FallbackReason)
		}
		checkAgainstGenerator(t, ix, res, "")
	})
	t.Run("zip", func(t *testing.T) {
		zp := filepath.Join(t.TempDir(), "cd.zip")
		writeZip(t, zp, res.Dir, "")
		for _, ignore := range []bool{false, true} {
			ix := scanMedium(t, Options{IgnoreDICOMDIR: ignore}, zp)
			if ix.Source != "cd.zip" {
				t.Errorf("source %q", ix.Source)
			}
			checkAgainstGenerator(t, ix, res, "")
		}
	})
	t.Run("iso", func(t *testing.T) {
		corpus.Tool(t, "xorriso")
		for _, variant := range [][]string{{}, {"-R"}, {"-J"}, {"-R", "-J"}} {
			iso := filepath.Join(t.TempDir(), "cd.iso")
			args := append([]string{"-as", "mkisofs", "-quiet", "-o", iso}, variant...)
			if out, err := exec.Command(corpus.Tool(t, "xorriso"), append(args, res.Dir)...).CombinedOutput(); err != nil {
				t.Fatalf("xorriso: %v\n%s", err, out)
			}
			ix := scanMedium(t, Options{}, iso)
			if ix.Method != MethodDICOMDIR {
				t.Errorf("ISO %v: method %q, fallback %q", variant, ix.Method, ix.FallbackReason)
			}
			checkAgainstGenerator(t, ix, res, "")
			full := scanMedium(t, Options{IgnoreDICOMDIR: true}, iso)
			checkAgainstGenerator(t, full, res, "")
		}
	})
	t.Run("mixed-drop", func(t *testing.T) {
		// The CD folder and a loose file: the DICOMDIR one level down does
		// not list the loose file, so everything is read.
		ix := scanMedium(t, Options{}, res.Dir, corpus.PydicomFile(t, "CT_small.dcm"))
		if ix.Method != MethodScan || ix.FallbackReason == "" {
			t.Fatalf("method %q, fallback %q", ix.Method, ix.FallbackReason)
		}
		if _, _, _, in := findInstance(ix, "CT_small.dcm"); in == nil {
			t.Error("CT_small.dcm not indexed")
		}
		base := filepath.Base(res.Dir)
		if _, _, _, in := findInstance(ix, base+"/"+res.AllInstances()[0].Path); in == nil {
			t.Errorf("%s/%s not indexed", base, res.AllInstances()[0].Path)
		}
	})
	t.Run("deterministic", func(t *testing.T) {
		a := scanMedium(t, Options{IgnoreDICOMDIR: true, Workers: 1}, res.Dir)
		b := scanMedium(t, Options{IgnoreDICOMDIR: true, Workers: 16}, res.Dir)
		a.Took, b.Took, a.ScannedAt, b.ScannedAt = 0, 0, time.Time{}, time.Time{}
		ja, _ := json.Marshal(a)
		jb, _ := json.Marshal(b)
		if string(ja) != string(jb) {
			t.Error("index depends on the number of workers")
		}
		var back Index
		if err := json.Unmarshal(ja, &back); err != nil {
			t.Fatal(err)
		}
		jback, _ := json.Marshal(&back)
		if string(jback) != string(ja) {
			t.Error("JSON does not round-trip")
		}
		if back.FS() != nil {
			t.Error("decoded index has a medium")
		}
	})
	t.Run("tree", func(t *testing.T) {
		ix := scanMedium(t, Options{}, res.Dir)
		for _, lang := range i18n.Langs {
			var sb strings.Builder
			if err := ix.WriteTree(&sb, lang); err != nil {
				t.Fatal(err)
			}
			out := sb.String()
			for _, p := range res.Patients {
				if !strings.Contains(out, FormatName(p.Name)) {
					t.Errorf("%s tree lacks patient %q:\n%s", lang, FormatName(p.Name), out)
				}
			}
			for _, want := range []string{i18n.T(lang, "scan.tree.method.dicomdir"), "REPORT/BEFUND.PDF", "AUTORUN.INF",
				i18n.T(lang, "scan.warning.several-patients", 2)} {
				if !strings.Contains(out, want) {
					t.Errorf("%s tree lacks %q:\n%s", lang, want, out)
				}
			}
			if strings.Contains(out, "scan.") {
				t.Errorf("%s tree shows a raw catalog key:\n%s", lang, out)
			}
		}
	})
}

// writeZip zips the tree at dir, each name prefixed by prefix.
func writeZip(t *testing.T, zp, dir, prefix string) {
	t.Helper()
	f, err := os.Create(zp)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(f)
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		w, err := zw.Create(prefix + filepath.ToSlash(rel))
		if err != nil {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		_, err = w.Write(data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
}

func TestOpenErrors(t *testing.T) {
	_, err := Open()
	if ue, ok := i18n.AsUserError(err); !ok || ue.Kind != i18n.KindInput {
		t.Errorf("Open(): %v, want an input error", err)
	}
	_, err = Open(filepath.Join(t.TempDir(), "no-such-cd"))
	if ue, ok := i18n.AsUserError(err); !ok || ue.Kind != i18n.KindInput || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open(missing): %v, want an input error wrapping ErrNotExist", err)
	}
	// A file that starts like a ZIP but is not one.
	bad := filepath.Join(t.TempDir(), "bad.zip")
	if err := os.WriteFile(bad, []byte("PK\x03\x04 not really a zip"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Open(bad)
	if ue, ok := i18n.AsUserError(err); !ok || ue.Key != "scan.error.bad-zip" {
		t.Errorf("Open(bad zip): %v", err)
	}
}
