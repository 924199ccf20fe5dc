package pdi

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bildbote/bildbote/dicomscan"
	"github.com/bildbote/bildbote/internal/gencd"
	"github.com/bildbote/bildbote/internal/i18n"
	"github.com/bildbote/bildbote/internal/testkit/corpus"
	"github.com/bildbote/bildbote/internal/testkit/validate"
)

// syntheticCD writes a small synthetic patient CD (two patients, Latin-1
// and UTF-8 names, CT and MR, a PDF report, clutter such as AUTORUN.INF
// and VIEWER.EXE) and scans it with the dicomscan reader.
func syntheticCD(t *testing.T, files int) (string, *dicomscan.Index) {
	t.Helper()
	dir := t.TempDir()
	if files < gencd.MinFiles {
		files = gencd.MinFiles
	}
	if _, err := gencd.Generate(dir, gencd.Options{Files: files, PixelSize: 16, Documents: true}); err != nil {
		t.Fatal(err)
	}
	return dir, scan(t, dir, dicomscan.Options{})
}

func scan(t *testing.T, dir string, opts dicomscan.Options) *dicomscan.Index {
	t.Helper()
	m, err := dicomscan.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	idx, err := dicomscan.Scan(context.Background(), m, opts)
	if err != nil {
		t.Fatal(err)
	}
	return idx
}

// flatten describes an index as lines of what a DICOMDIR carries, sorted,
// so two indexes of the same studies compare equal whatever their order.
func flatten(idx *dicomscan.Index) []string {
	var out []string
	for _, p := range idx.Patients {
		for _, s := range p.Studies {
			for _, se := range s.Series {
				for _, in := range se.Instances {
					out = append(out, fmt.Sprintf("%q %q %q | %s %s %s %q %q %q | %s %d %s %q | %s %s %s %d",
						p.Name, p.ID, p.BirthDate,
						s.InstanceUID, s.Date, s.Time, s.Description, s.AccessionNumber, s.StudyID,
						se.InstanceUID, se.Number, se.Modality, se.Description,
						in.SOPInstanceUID, in.SOPClassUID, in.TransferSyntaxUID, in.Number))
				}
			}
		}
	}
	sortStrings(out)
	return out
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

func sameIndex(t *testing.T, what string, want, got *dicomscan.Index) {
	t.Helper()
	w, g := flatten(want), flatten(got)
	if len(w) != len(g) {
		t.Errorf("%s: %d instances, want %d", what, len(g), len(w))
	}
	for i := 0; i < len(w) && i < len(g); i++ {
		if w[i] != g[i] {
			t.Errorf("%s: instance differs\n got %s\nwant %s", what, g[i], w[i])
			return
		}
	}
}

// TestRoundTripSyntheticCD: scan a synthetic CD, write it as a folder and
// as a ZIP, validate both, and scan them again — through the DICOMDIR and
// by reading every file — to the same index.
func TestRoundTripSyntheticCD(t *testing.T) {
	t.Parallel()
	cdDir, idx := syntheticCD(t, 60)
	if len(idx.Documents) == 0 {
		t.Fatal("synthetic CD: no document indexed")
	}
	opts := Options{Time: fixedTime, IncludeDocuments: true}

	out := filepath.Join(t.TempDir(), "fs")
	res, err := WriteDir(context.Background(), out, idx, opts)
	if err != nil {
		t.Fatal(err)
	}
	checkFileSet(t, out, cdDir, res, instances(idx))
	checkNames(t, out)
	again := scan(t, out, dicomscan.Options{})
	if again.Method != dicomscan.MethodDICOMDIR {
		t.Errorf("rescan used %q (%s), want the DICOMDIR", again.Method, again.FallbackReason)
	}
	sameIndex(t, "rescan via DICOMDIR", idx, again)
	sameIndex(t, "rescan of every file", idx, scan(t, out, dicomscan.Options{IgnoreDICOMDIR: true}))
	if res.Documents != len(idx.Documents) || len(again.Documents) != len(idx.Documents) {
		t.Errorf("documents: wrote %d, rescan found %d, want %d", res.Documents, len(again.Documents), len(idx.Documents))
	}

	var buf bytes.Buffer
	zres, err := WriteZip(context.Background(), &buf, idx, opts)
	if err != nil {
		t.Fatal(err)
	}
	unzipped := extract(t, buf.Bytes())
	checkFileSet(t, unzipped, cdDir, zres, instances(idx))
	sameIndex(t, "rescan of the extracted ZIP", idx, scan(t, unzipped, dicomscan.Options{}))

	// the ZIP itself is a medium the reader opens
	zipPath := filepath.Join(t.TempDir(), "pdi.zip")
	if err := os.WriteFile(zipPath, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	sameIndex(t, "scan of the ZIP", idx, scan(t, zipPath, dicomscan.Options{}))
}

// extract unpacks a ZIP with archive/zip into a new folder, through
// os.Root so a bad name could not escape.
func extract(t *testing.T, data []byte) string {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	for _, f := range zr.File {
		if strings.Contains(f.Name, "..") || strings.HasPrefix(f.Name, "/") || strings.Contains(f.Name, `\`) {
			t.Fatalf("ZIP entry %q", f.Name)
		}
		if d := filepath.Dir(f.Name); d != "." {
			if err := root.MkdirAll(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		w, err := root.Create(f.Name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(w, rc); err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
		rc.Close()
		w.Close()
	}
	return dir
}

// checkNames walks a file-set: every name is upper case 8.3 (DICOM file
// IDs without extension), no executables, nothing but the PDI layout.
func checkNames(t *testing.T, dir string) {
	t.Helper()
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		base := d.Name()
		stem, ext, _ := strings.Cut(base, ".")
		if len(stem) > 8 || len(ext) > 3 || strings.Trim(stem+ext, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") != "" {
			t.Errorf("%s: not an upper-case 8.3 name", rel)
		}
		if strings.HasPrefix(rel, "DICOM/") && ext != "" {
			t.Errorf("%s: DICOM file with an extension", rel)
		}
		if isExecutableName(base) && rel != "INDEX.HTM" {
			t.Errorf("%s: executable or active content on the medium", rel)
		}
		top, _, _ := strings.Cut(rel, "/")
		switch top {
		case "DICOM", "IHE_PDI", "DICOMDIR", "README.TXT", "INDEX.HTM":
		default:
			t.Errorf("%s: outside the PDI layout", rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestSelection(t *testing.T) {
	t.Parallel()
	srcs := standardSources(t)
	mediumDir, idx := medium(t, srcs)
	uid := idx.Patients[1].Studies[0].InstanceUID
	out := filepath.Join(t.TempDir(), "fs")
	res, err := WriteDir(context.Background(), out, idx, Options{Studies: []string{uid}, Time: fixedTime})
	if err != nil {
		t.Fatal(err)
	}
	want := 0
	for _, se := range idx.Patients[1].Studies[0].Series {
		want += len(se.Instances)
	}
	checkFileSet(t, out, mediumDir, res, want)
	if res.Studies != 1 || res.Patients != 1 {
		t.Errorf("wrote %d patients, %d studies; want 1, 1", res.Patients, res.Studies)
	}
	got := scan(t, out, dicomscan.Options{})
	if len(got.Patients) != 1 || len(got.Patients[0].Studies) != 1 || got.Patients[0].Studies[0].InstanceUID != uid {
		t.Errorf("rescan: %+v", got.Patients)
	}

	_, err = WriteDir(context.Background(), filepath.Join(t.TempDir(), "x"), idx, Options{Studies: []string{"1.2.3.4.5"}})
	var ue *i18n.UserError
	if !errors.As(err, &ue) || ue.Key != "pdi.err.unknown-study" || ue.Kind != i18n.KindInput {
		t.Errorf("unknown study: %v", err)
	}
}

// TestUmlauts: a Latin-1 German name and a UTF-8 Chinese name survive the
// DICOMDIR, each record in its own character set, and come back from the
// reader as the same UTF-8.
func TestUmlauts(t *testing.T) {
	t.Parallel()
	srcs := []source{charsetFile(t, "chrGerm.dcm", "a"), charsetFile(t, "chrX1.dcm", "b")}
	mediumDir, _ := medium(t, srcs)
	// indexed by the dicomscan reader (which, unlike pydicom, keeps the
	// empty trailing component group of "Wang^XiaoDong=王^小東=")
	idx := scan(t, mediumDir, dicomscan.Options{})
	out := filepath.Join(t.TempDir(), "fs")
	res, err := WriteDir(context.Background(), out, idx, Options{Time: fixedTime})
	if err != nil {
		t.Fatal(err)
	}
	checkFileSet(t, out, mediumDir, res, 2)
	dd, err := os.ReadFile(filepath.Join(out, "DICOMDIR"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range [][]byte{
		[]byte("ISO_IR 100"), []byte("\xc4neas^R\xfcdiger"), // Latin-1 bytes
		[]byte("ISO_IR 192"), []byte("Wang^XiaoDong=王^小東"), // UTF-8 bytes
	} {
		if !bytes.Contains(dd, want) {
			t.Errorf("DICOMDIR lacks %q", want)
		}
	}
	got := scan(t, out, dicomscan.Options{})
	names := map[string]bool{}
	for _, p := range got.Patients {
		names[p.Name] = true
	}
	if !names["Äneas^Rüdiger"] || !names["Wang^XiaoDong=王^小東="] {
		t.Errorf("rescanned names: %v", names)
	}
	// neither file has a Study Date: the DICOMDIR says Options.Time, as
	// dcmmkdir +I would; the files themselves are unchanged
	sameIndex(t, "rescan via DICOMDIR", inventDates(t, idx, fixedTime), got)
	sameIndex(t, "rescan of every file", idx, scan(t, out, dicomscan.Options{IgnoreDICOMDIR: true}))
}

// TestHostileNames: whatever the source paths look like, the file-set
// holds only the names the writer made up; documents that are programs
// are left out, by name and by content.
func TestHostileNames(t *testing.T) {
	t.Parallel()
	srcs := []source{
		pydicomFile(t, "CT_small.dcm", "..weird/CT small ü.dcm"),
		pydicomFile(t, "MR_small.dcm", "a/b/c/d/e/f/g/h/i/j/k/l/MR.dcm"),
		pydicomFile(t, "JPEG-lossy.dcm", "dicom/PAT00001/STU00001/SER00001/IMG00001"),
	}
	mediumDir, idx := medium(t, srcs)
	writeFile(t, filepath.Join(mediumDir, "report <script>.pdf"), []byte("%PDF-1.4\n%%EOF\n"))
	writeFile(t, filepath.Join(mediumDir, "VIEWER.EXE"), []byte("MZ\x90\x00 not really"))
	writeFile(t, filepath.Join(mediumDir, "innocent.pdf"), []byte("MZ\x90\x00 a program in disguise"))
	writeFile(t, filepath.Join(mediumDir, "AUTORUN.INF"), []byte("[autorun]\nopen=VIEWER.EXE\n"))
	writeFile(t, filepath.Join(mediumDir, "viewer.htm"), []byte("<script>alert(1)</script>"))
	idx.Documents = []dicomscan.Document{
		{Path: "report <script>.pdf", MIMEType: "application/pdf"},
		{Path: "VIEWER.EXE", MIMEType: "application/pdf"},
		{Path: "innocent.pdf", MIMEType: "application/pdf"},
		{Path: "AUTORUN.INF", MIMEType: "text/plain"},
		{Path: "viewer.htm", MIMEType: "text/plain"},
		{Path: "../../etc/passwd", MIMEType: "text/plain"},
	}
	// instances that try to leave the medium, or are programs
	idx.Patients[0].Studies[0].Series[0].Instances = append(idx.Patients[0].Studies[0].Series[0].Instances,
		&dicomscan.Instance{Path: "../../../etc/passwd", SOPInstanceUID: "1.2.3", SOPClassUID: "1.2.3", TransferSyntaxUID: uidExplicitVRLE},
		&dicomscan.Instance{Path: "VIEWER.EXE", SOPInstanceUID: "1.2.4", SOPClassUID: "1.2.3", TransferSyntaxUID: uidExplicitVRLE},
		&dicomscan.Instance{Path: "innocent.pdf", SOPInstanceUID: "1.2.5", SOPClassUID: "1.2.3", TransferSyntaxUID: uidExplicitVRLE})

	out := filepath.Join(t.TempDir(), "fs")
	res, err := WriteDir(context.Background(), out, idx, Options{Time: fixedTime, IncludeDocuments: true})
	if err != nil {
		t.Fatal(err)
	}
	checkFileSet(t, out, mediumDir, res, 3)
	checkNames(t, out)
	if res.Documents != 1 {
		t.Errorf("wrote %d documents, want only the real PDF; skipped %v", res.Documents, res.Skipped)
	}
	for _, e := range res.Written {
		if strings.Contains(e.Path, "..") || strings.ContainsAny(e.Path, " <>üw") {
			t.Errorf("source name leaked: %s → %s", e.Source, e.Path)
		}
	}
	skipped := map[string]bool{}
	for _, s := range res.Skipped {
		skipped[s.Path] = true
	}
	for _, p := range []string{"VIEWER.EXE", "innocent.pdf", "AUTORUN.INF", "viewer.htm", "../../etc/passwd", "../../../etc/passwd"} {
		if !skipped[p] {
			t.Errorf("%s not skipped", p)
		}
	}
	if n := len(res.Skipped); n != 8 {
		t.Errorf("%d skipped, want 8 (3 instances, 5 documents): %v", n, res.Skipped)
	}
	html, err := os.ReadFile(filepath.Join(out, "INDEX.HTM"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(html, []byte("<script>")) || !bytes.Contains(html, []byte("report &lt;script&gt;.pdf")) {
		t.Errorf("INDEX.HTM does not escape the document name:\n%s", html)
	}
	wellFormed(t, html)
}

// inventDates returns a copy of idx with the Study Date and Time the
// DICOMDIR records get for studies without them.
func inventDates(t *testing.T, idx *dicomscan.Index, at time.Time) *dicomscan.Index {
	t.Helper()
	data, err := json.Marshal(idx)
	if err != nil {
		t.Fatal(err)
	}
	var c dicomscan.Index
	if err := json.Unmarshal(data, &c); err != nil {
		t.Fatal(err)
	}
	for _, p := range c.Patients {
		for _, s := range p.Studies {
			if s.Date == "" {
				s.Date = at.Format("20060102")
			}
			if s.Time == "" {
				s.Time = at.Format("150405")
			}
		}
	}
	return &c
}

func writeFile(t *testing.T, p string, data []byte) {
	t.Helper()
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// wellFormed parses INDEX.HTM as XML: the page is written so that it is
// both HTML5 and well-formed, which catches unbalanced or unescaped markup.
func wellFormed(t *testing.T, page []byte) {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(page))
	d.Strict = true
	d.Entity = xml.HTMLEntity
	for {
		_, err := d.Token()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Errorf("INDEX.HTM is not well-formed: %v", err)
			return
		}
	}
}

// countingProgress has no lock on purpose: Progress is called on one
// goroutine at a time (write.go), and -race checks that it is.
type countingProgress struct {
	plannedFiles int
	plannedBytes int64
	files        int
	bytes        int64
	cancelAfter  int64
	cancel       context.CancelFunc
}

func (p *countingProgress) Planned(files int, bytes int64) {
	p.plannedFiles, p.plannedBytes = files, bytes
}

func (p *countingProgress) Wrote(files int, bytes int64) {
	p.files += files
	p.bytes += bytes
	if p.cancel != nil && p.bytes >= p.cancelAfter {
		p.cancel()
	}
}

func TestProgressAndCancel(t *testing.T) {
	t.Parallel()
	_, idx := syntheticCD(t, 0)
	var prog countingProgress
	var buf bytes.Buffer
	res, err := WriteZip(context.Background(), &buf, idx, Options{Time: fixedTime, Progress: &prog})
	if err != nil {
		t.Fatal(err)
	}
	if prog.files != res.Files || prog.bytes != res.Bytes || prog.plannedFiles != res.Files {
		t.Errorf("progress: planned %d files, saw %d files %d bytes; result %d files %d bytes",
			prog.plannedFiles, prog.files, prog.bytes, res.Files, res.Bytes)
	}

	// cancelling half-way stops the run with ctx's error, before the
	// DICOMDIR is written
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	half := &countingProgress{cancelAfter: res.Bytes / 2, cancel: cancel}
	out := filepath.Join(t.TempDir(), "fs")
	_, err = WriteDir(ctx, out, idx, Options{Time: fixedTime, Progress: half})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled run: %v", err)
	}
	if half.bytes > res.Bytes/2+copyChunk+64<<10 {
		t.Errorf("kept writing after cancel: %d of %d bytes", half.bytes, res.Bytes)
	}
	if _, err := os.Stat(filepath.Join(out, "DICOMDIR")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("cancelled run left a DICOMDIR: %v", err)
	}

	// the same for a ZIP, whose instances are deflated on several workers
	zctx, zcancel := context.WithCancel(context.Background())
	defer zcancel()
	zhalf := &countingProgress{cancelAfter: res.Bytes / 2, cancel: zcancel}
	var partial bytes.Buffer
	if _, err = WriteZip(zctx, &partial, idx, Options{Time: fixedTime, Progress: zhalf}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled ZIP: %v", err)
	}
	if bytes.Contains(partial.Bytes(), []byte("DICOMDIR")) {
		t.Error("cancelled ZIP holds a DICOMDIR")
	}

	// a folder that is not empty is refused
	_, err = WriteDir(context.Background(), out, idx, Options{})
	var ue *i18n.UserError
	if !errors.As(err, &ue) || ue.Key != "pdi.err.dir-not-empty" {
		t.Errorf("non-empty folder: %v", err)
	}
}

// pyRecords prints every directory record of a DICOMDIR as one line: its
// path of record types and the keys both writers must agree on.
const pyRecords = `
import sys, warnings
warnings.simplefilter("ignore")
from pydicom import dcmread
keys = ["PatientID", "PatientName", "StudyInstanceUID", "StudyDate", "StudyTime",
        "StudyID", "AccessionNumber", "StudyDescription", "SeriesInstanceUID",
        "Modality", "SeriesNumber", "InstanceNumber", "ReferencedFileID",
        "ReferencedSOPClassUIDInFile", "ReferencedSOPInstanceUIDInFile",
        "ReferencedTransferSyntaxUIDInFile"]
ds = dcmread(sys.argv[1])
recs = {r.seq_item_tell: r for r in ds.DirectoryRecordSequence}
out = []
def walk(offset, prefix):
    while offset:
        r = recs[offset]
        vals = [r.DirectoryRecordType]
        for k in keys:
            if k in r:
                v = r[k].value
                vals.append(k + "=" + ("\\\\".join(v) if isinstance(v, (list, tuple)) or type(v).__name__ == "MultiValue" else str(v)))
        line = prefix + " | " + " ".join(vals)
        out.append(line)
        walk(r.OffsetOfReferencedLowerLevelDirectoryEntity, line)
        offset = r.OffsetOfTheNextDirectoryRecord
walk(ds.OffsetOfTheFirstDirectoryRecordOfTheRootDirectoryEntity, "")
for line in sorted(out):
    print(line)
`

// TestSameAsDcmmkdir: dcmtk's dcmmkdir, run over the DICOM/ tree this
// package wrote, builds a DICOMDIR with the same records, keys and
// references as ours (walked by offsets with pydicom).
func TestSameAsDcmmkdir(t *testing.T) {
	t.Parallel()
	_, idx := syntheticCD(t, 0)
	out := filepath.Join(t.TempDir(), "fs")
	if _, err := WriteDir(context.Background(), out, idx, Options{Time: fixedTime}); err != nil {
		t.Fatal(err)
	}
	peer := filepath.Join(t.TempDir(), "DICOMDIR")
	cmd := exec.Command(corpus.Tool(t, "dcmmkdir"), "-q", "+r", "+D", peer, "DICOM")
	cmd.Dir = out
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("dcmmkdir: %v\n%s", err, msg)
	}
	records := func(p string) string {
		got, err := exec.Command(corpus.PythonWithPydicom(t), "-c", pyRecords, p).Output()
		if err != nil {
			t.Fatalf("records of %s: %v", p, err)
		}
		return string(got)
	}
	ours, theirs := records(filepath.Join(out, "DICOMDIR")), records(peer)
	if ours != theirs {
		t.Errorf("DICOMDIR records differ from dcmmkdir's\nours:\n%s\ndcmmkdir:\n%s", ours, theirs)
	}
	if strings.Count(ours, "IMAGE") != instances(idx) {
		t.Errorf("%d IMAGE records, want %d", strings.Count(ours, "IMAGE"), instances(idx))
	}
}

// pyRecordsOnly is the pydicom FileSet check without loading the
// instances: some corpus files are broken on purpose (data set encoded
// other than its meta says), and the writer copies data sets as they are.
const pyRecordsOnly = `
import sys, warnings
warnings.simplefilter("error")
warnings.filterwarnings("ignore", message="The 'DicomDir' class is deprecated", category=DeprecationWarning)
from pydicom import dcmread
from pydicom.fileset import FileSet
print(len(list(FileSet(dcmread(sys.argv[1])))))
`

// TestPydicomCorpus: everything the dicomscan reader indexes among
// pydicom's test and charset files (every transfer syntax, broken files,
// SR, RT, waveforms, 16 character sets) is written into one file-set whose
// DICOMDIR validates, and a rescan through that DICOMDIR finds every
// instance again.
func TestPydicomCorpus(t *testing.T) {
	t.Parallel()
	m, err := dicomscan.Open(corpus.PydicomTestFiles(t), corpus.PydicomCharsetFiles(t))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	idx, err := dicomscan.Scan(context.Background(), m, dicomscan.Options{IgnoreDICOMDIR: true})
	if err != nil {
		t.Fatal(err)
	}
	if instances(idx) < 100 {
		t.Fatalf("only %d instances indexed", instances(idx))
	}
	out := filepath.Join(t.TempDir(), "fs")
	res, err := WriteDir(context.Background(), out, idx, Options{Time: fixedTime, FileSetID: "PYDICOM"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Instances != instances(idx) {
		t.Errorf("wrote %d of %d instances; skipped %v", res.Instances, instances(idx), res.Skipped)
	}
	dicomdir := filepath.Join(out, "DICOMDIR")
	validate.Dciodvfy(t, dicomdir)
	if msg, err := exec.Command(corpus.Tool(t, "dcdirdmp"), dicomdir).CombinedOutput(); err != nil {
		t.Errorf("dcdirdmp: %v\n%.2000s", err, msg)
	}
	var stderr bytes.Buffer
	cmd := exec.Command(corpus.PythonWithPydicom(t), "-c", pyRecordsOnly, dicomdir)
	cmd.Stderr = &stderr
	got, err := cmd.Output()
	if err != nil || strings.TrimSpace(string(got)) != fmt.Sprint(res.Instances) {
		t.Errorf("pydicom FileSet: %v, %q instances, want %d\n%s", err, got, res.Instances, stderr.Bytes())
	}
	checkNames(t, out)

	again := scan(t, out, dicomscan.Options{})
	if again.Method != dicomscan.MethodDICOMDIR {
		t.Errorf("rescan used %q: %s", again.Method, again.FallbackReason)
	}
	found := map[string]bool{}
	for _, line := range flatten(again) {
		found[strings.Fields(line[strings.LastIndex(line, "|")+1:])[0]] = true
	}
	for _, line := range flatten(idx) {
		if uid := strings.Fields(line[strings.LastIndex(line, "|")+1:])[0]; !found[uid] {
			t.Errorf("instance %s not found again", uid)
		}
	}
}
