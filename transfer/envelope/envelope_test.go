package envelope

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"filippo.io/age"
	"github.com/bildbote/bildbote/dicomscan"
	"github.com/bildbote/bildbote/internal/i18n"
	"github.com/bildbote/bildbote/internal/testkit/corpus"
	"github.com/bildbote/bildbote/transfer"
	"github.com/klauspost/compress/zstd"
)

// medium copies some third-party DICOM files (every kind of compression)
// into a CD-like tree and returns an index over it, built by hand so the
// test does not depend on the scanner.
func medium(t *testing.T) (*dicomscan.Index, string) {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"DICOM/ST000001/SE000001/IM000001": "CT_small.dcm",
		"DICOM/ST000001/SE000001/IM000002": "MR_small.dcm",
		"DICOM/ST000001/SE000002/IM000001": "JPEG2000.dcm",
		"DICOM/ST000001/SE000002/IM000002": "MR_small_RLE.dcm",
		"DICOM/ST000002/SE000001/IM000001": "JPGExtended.dcm",
	}
	ix := &dicomscan.Index{Source: dir, Method: "scan"}
	p := &dicomscan.Patient{Name: "Müller^Jürgen", ID: "4711", BirthDate: "19600101", Sex: "M"}
	studies := map[string]*dicomscan.Study{}
	for rel, name := range files {
		src := corpus.PydicomFile(t, name)
		data, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, data, 0o644); err != nil {
			t.Fatal(err)
		}
		uid := "1.2.3." + rel[len("DICOM/ST00000"):len("DICOM/ST000001")]
		st := studies[uid]
		if st == nil {
			st = &dicomscan.Study{InstanceUID: uid, Date: "20240102", Description: "Thorax", Modalities: []string{"CT"}}
			st.Series = []*dicomscan.Series{{InstanceUID: uid + ".1", Modality: "CT"}}
			studies[uid] = st
			p.Studies = append(p.Studies, st)
		}
		st.Series[0].Instances = append(st.Series[0].Instances, &dicomscan.Instance{SOPInstanceUID: uid + ".1." + name, Path: rel, Size: int64(len(data))})
		ix.Files++
		ix.Bytes += int64(len(data))
	}
	if err := os.MkdirAll(filepath.Join(dir, "IHE_PDI"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "IHE_PDI", "BEFUND.PDF"), []byte("%PDF-1.4 Befund für Müller"), 0o644); err != nil {
		t.Fatal(err)
	}
	ix.Documents = []dicomscan.Document{{Path: "IHE_PDI/BEFUND.PDF", Size: int64(len("%PDF-1.4 Befund für Müller")), MIMEType: "application/pdf"}}
	ix.Patients = []*dicomscan.Patient{p}
	ix.SetFS(os.DirFS(dir))
	return ix, dir
}

func newIdentity(t *testing.T) *age.X25519Identity {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func sealInput(ix *dicomscan.Index, id *age.X25519Identity) SealInput {
	return SealInput{Index: ix, Documents: []string{"IHE_PDI/BEFUND.PDF"},
		Sender:     Sender{Name: "Dr. Schäfer", Practice: "Radiologie am Markt", Phone: "+49 30 1234", Email: "praxis@example.org"},
		Patient:    Patient{Name: "Müller^Jürgen", ID: "4711", BirthDate: "19600101", Sex: "M"},
		Referrer:   Referrer{Name: "Dr. Weiß", Practice: "Hausarzt", Phone: "+49 30 9876"},
		Message:    "Bitte Vergleich mit Voraufnahme.",
		Recipients: []string{id.Recipient().String()},
	}
}

func seal(t *testing.T, in SealInput) (string, *SealResult) {
	t.Helper()
	spool := filepath.Join(t.TempDir(), "send.age")
	var last transfer.Status
	res, err := Seal(context.Background(), in, spool, transfer.ProgressFunc(func(s transfer.Status) { last = s }))
	if err != nil {
		t.Fatal(err)
	}
	if last.State != transfer.StateDone || last.Done != last.Total {
		t.Errorf("last progress %+v", last)
	}
	return spool, res
}

func fileSHA(t *testing.T, p string) string {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(data)
	return hex.EncodeToString(s[:])
}

func TestSealOpenRoundTrip(t *testing.T) {
	ix, src := medium(t)
	id := newIdentity(t)
	spool, res := seal(t, sealInput(ix, id))

	fi, err := os.Stat(spool)
	if err != nil || fi.Size() != res.Size || fileSHA(t, spool) != res.SHA256 {
		t.Fatalf("SealResult does not describe the spool file: %+v, %v", res, err)
	}
	if len(res.Manifest.Files) != 6 || len(res.Manifest.Studies) != 2 {
		t.Fatalf("manifest: %d files, %d studies", len(res.Manifest.Files), len(res.Manifest.Studies))
	}
	// The spool holds no plaintext: neither the manifest nor a DICOM preamble.
	raw, _ := os.ReadFile(spool)
	for _, s := range []string{"Müller", "manifest.json", "DICM", "Schäfer"} {
		if bytes.Contains(raw, []byte(s)) {
			t.Errorf("plaintext %q in the spool file", s)
		}
	}
	// The age CLI (a second implementation) decrypts it, and zstd(1) + tar(1)
	// read the plaintext format as documented.
	checkWithTools(t, spool, id)

	dst := filepath.Join(t.TempDir(), "inbox", "item1")
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	f, _ := os.Open(spool)
	defer f.Close()
	m, err := Open(context.Background(), f, []age.Identity{id}, dst, Limits{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if m.Sender.Practice != "Radiologie am Markt" || m.Patient.Name != "Müller^Jürgen" || m.Version != FormatVersion {
		t.Errorf("manifest: %+v", m)
	}
	for _, mf := range m.Files {
		if got, want := fileSHA(t, filepath.Join(dst, "files", mf.Path)), fileSHA(t, filepath.Join(src, mf.Path)); got != want || got != mf.SHA256 {
			t.Errorf("%s: extracted %s, source %s, manifest %s", mf.Path, got, want, mf.SHA256)
		}
	}
	if _, err := os.Stat(filepath.Join(dst, ManifestName)); err != nil {
		t.Error("manifest.json not written")
	}
	assertNoLeftovers(t, filepath.Dir(dst), 1)

	f.Seek(0, 0)
	rm, err := ReadManifest(context.Background(), f, []age.Identity{id})
	if err != nil || rm.Message != "Bitte Vergleich mit Voraufnahme." || len(rm.Files) != 6 {
		t.Fatalf("ReadManifest: %v", err)
	}
}

func checkWithTools(t *testing.T, spool string, id *age.X25519Identity) {
	t.Helper()
	ageBin := corpus.Tool(t, "age")
	zstdBin := corpus.Tool(t, "zstd")
	dir := t.TempDir()
	key := filepath.Join(dir, "key.txt")
	if err := os.WriteFile(key, []byte(id.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	runShell(t, ageBin+" -d -i "+key+" "+spool+" | "+zstdBin+" -dc | tar -t > "+filepath.Join(dir, "list"))
	list, _ := os.ReadFile(filepath.Join(dir, "list"))
	lines := strings.Split(strings.TrimSpace(string(list)), "\n")
	if lines[0] != ManifestName || len(lines) != 7 || !strings.HasPrefix(lines[1], FilesPrefix) {
		t.Errorf("tar listing by the tools:\n%s", list)
	}
}

func assertNoLeftovers(t *testing.T, dir string, want int) {
	t.Helper()
	entries, _ := os.ReadDir(dir)
	if len(entries) != want {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("%s holds %v, want %d entries", dir, names, want)
	}
}

func TestSelectStudies(t *testing.T) {
	ix, _ := medium(t)
	id := newIdentity(t)
	in := sealInput(ix, id)
	in.Studies = []string{"1.2.3.2"}
	in.Documents = nil
	_, res := seal(t, in)
	if len(res.Manifest.Studies) != 1 || len(res.Manifest.Files) != 1 || res.Manifest.Studies[0].Instances != 1 {
		t.Fatalf("selection: %+v", res.Manifest.Studies)
	}
	in.Studies = []string{"9.9.9"}
	if _, err := Seal(context.Background(), in, filepath.Join(t.TempDir(), "x"), nil); err == nil {
		t.Error("an unknown study was accepted")
	}
}

// A flipped byte anywhere in the payload fails age's authentication: a
// typed error, and nothing in the destination.
func TestTamperedEnvelope(t *testing.T) {
	ix, _ := medium(t)
	id := newIdentity(t)
	spool, res := seal(t, sealInput(ix, id))
	raw, _ := os.ReadFile(spool)
	for _, pos := range []int64{res.Size / 2, res.Size - 20, 300} {
		bad := bytes.Clone(raw)
		bad[pos] ^= 0x01
		parent := t.TempDir()
		_, err := Open(context.Background(), bytes.NewReader(bad), []age.Identity{id}, filepath.Join(parent, "x"), Limits{}, nil)
		var ce *CorruptError
		if !errors.As(err, &ce) {
			t.Fatalf("flip at %d: %v", pos, err)
		}
		if ue, ok := i18n.AsUserError(err); !ok || ue.Kind != i18n.KindRefused {
			t.Errorf("flip at %d: not a user error: %v", pos, err)
		}
		assertNoLeftovers(t, parent, 0)
	}
	// Truncation at a chunk boundary is caught by age's final-chunk flag.
	parent := t.TempDir()
	_, err := Open(context.Background(), bytes.NewReader(raw[:len(raw)-17]), []age.Identity{id}, filepath.Join(parent, "x"), Limits{}, nil)
	var ce *CorruptError
	if !errors.As(err, &ce) {
		t.Fatalf("truncated: %v", err)
	}
	assertNoLeftovers(t, parent, 0)
}

func TestWrongIdentity(t *testing.T) {
	ix, _ := medium(t)
	spool, _ := seal(t, sealInput(ix, newIdentity(t)))
	f, _ := os.Open(spool)
	defer f.Close()
	_, err := ReadManifest(context.Background(), f, []age.Identity{newIdentity(t)})
	var nf *NotForUsError
	if !errors.As(err, &nf) {
		t.Fatalf("wrong key: %v", err)
	}
}

func TestSealRefusesWhenSourceChanges(t *testing.T) {
	ix, dir := medium(t)
	id := newIdentity(t)
	ix.SetFS(&changingFS{FS: os.DirFS(dir), path: "DICOM/ST000001/SE000001/IM000002"})
	spoolDir := t.TempDir()
	_, err := Seal(context.Background(), sealInput(ix, id), filepath.Join(spoolDir, "send.age"), nil)
	var sc *SourceChangedError
	if !errors.As(err, &sc) || sc.Path != "DICOM/ST000001/SE000001/IM000002" {
		t.Fatalf("changed source: %v", err)
	}
	assertNoLeftovers(t, spoolDir, 0)
}

// changingFS returns a file's bytes with one bit flipped from the second
// open on, like a scratched CD that reads differently each time.
type changingFS struct {
	fs.FS
	path  string
	opens int
}

func (c *changingFS) Open(name string) (fs.File, error) {
	if name != c.path {
		return c.FS.Open(name)
	}
	c.opens++
	data, err := fs.ReadFile(c.FS, name)
	if err != nil {
		return nil, err
	}
	if c.opens > 1 {
		data[len(data)/2] ^= 1
	}
	return fstest.MapFS{name: {Data: data}}.Open(name)
}

func TestSealCancelled(t *testing.T) {
	ix, _ := medium(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	spoolDir := t.TempDir()
	_, err := Seal(ctx, sealInput(ix, newIdentity(t)), filepath.Join(spoolDir, "send.age"), nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
	assertNoLeftovers(t, spoolDir, 0)
}

// craft builds an envelope by hand, to feed Open what Seal never writes.
func craft(t *testing.T, id *age.X25519Identity, m *Manifest, entries []entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := age.Encrypt(&buf, id.Recipient())
	if err != nil {
		t.Fatal(err)
	}
	zw, _ := zstd.NewWriter(w)
	tw := tar.NewWriter(zw)
	if m != nil {
		data, _ := json.Marshal(m)
		tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: ManifestName, Size: int64(len(data)), Mode: 0o644})
		tw.Write(data)
	}
	for _, e := range entries {
		h := e.hdr
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(e.data))
		}
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		tw.Write(e.data)
	}
	tw.Close()
	zw.Close()
	w.Close()
	return buf.Bytes()
}

type entry struct {
	hdr  tar.Header
	data []byte
}

func reg(name string, data string) entry {
	return entry{tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644}, []byte(data)}
}

func manifestFor(files map[string]string) *Manifest {
	m := &Manifest{Format: FormatName, Version: FormatVersion, Created: time.Now()}
	for p, data := range files {
		s := sha256.Sum256([]byte(data))
		m.Files = append(m.Files, File{Path: p, Size: int64(len(data)), SHA256: hex.EncodeToString(s[:])})
	}
	return m
}

func TestOpenRejectsHostileEnvelopes(t *testing.T) {
	id := newIdentity(t)
	good := map[string]string{"a/b.dcm": "hallo"}
	tooMany := manifestFor(map[string]string{"a": "1", "b": "2", "c": "3"})
	cases := []struct {
		name string
		env  []byte
		lim  Limits
		want any
	}{
		{"dotdot in manifest", craft(t, id, manifestFor(map[string]string{"../evil": "x"}), []entry{reg("files/../evil", "x")}), Limits{}, new(*CorruptError)},
		{"absolute in manifest", craft(t, id, manifestFor(map[string]string{"/etc/evil": "x"}), []entry{reg("files//etc/evil", "x")}), Limits{}, new(*CorruptError)},
		{"dotdot entry", craft(t, id, manifestFor(good), []entry{reg("files/a/b.dcm", "hallo"), reg("files/../../x", "x")}), Limits{}, new(*CorruptError)},
		{"symlink entry", craft(t, id, manifestFor(good), []entry{{tar.Header{Typeflag: tar.TypeSymlink, Name: "files/a", Linkname: "/etc"}, nil}, reg("files/a/b.dcm", "hallo")}), Limits{}, new(*CorruptError)},
		{"hash mismatch", craft(t, id, manifestFor(good), []entry{reg("files/a/b.dcm", "hallO")}), Limits{}, new(*VerifyError)},
		{"size mismatch", craft(t, id, manifestFor(good), []entry{reg("files/a/b.dcm", "hallo!")}), Limits{}, new(*VerifyError)},
		{"missing file", craft(t, id, manifestFor(good), nil), Limits{}, new(*VerifyError)},
		{"extra file", craft(t, id, manifestFor(good), []entry{reg("files/a/b.dcm", "hallo"), reg("files/c", "")}), Limits{}, new(*VerifyError)},
		{"duplicate file", craft(t, id, manifestFor(good), []entry{reg("files/a/b.dcm", "hallo"), reg("files/a/b.dcm", "hallo")}), Limits{}, new(*VerifyError)},
		{"manifest not first", craft(t, id, nil, []entry{reg("files/a/b.dcm", "hallo")}), Limits{}, new(*CorruptError)},
		{"too many files", craft(t, id, tooMany, nil), Limits{MaxFiles: 2}, new(*LimitError)},
		{"too large", craft(t, id, manifestFor(good), nil), Limits{MaxTotalBytes: 4}, new(*LimitError)},
		{"future version", craft(t, id, &Manifest{Format: FormatName, Version: 2}, nil), Limits{}, new(*VersionError)},
		// Control and bidi characters in a name: refused as unsafe, the
		// name is not in the message.
		{"control characters in a name", craft(t, id, manifestFor(map[string]string{"a/\x1b[2J\u202eevil.dcm": "hallo"}), []entry{reg("files/a/\x1b[2J\u202eevil.dcm", "hallO")}), Limits{}, new(*CorruptError)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			parent := t.TempDir()
			_, err := Open(context.Background(), bytes.NewReader(c.env), []age.Identity{id}, filepath.Join(parent, "x"), c.lim, nil)
			if err == nil || !errors.As(err, c.want) {
				t.Fatalf("got %v, want %T", err, c.want)
			}
			if _, ok := i18n.AsUserError(err); !ok {
				t.Errorf("not a user error: %v", err)
			}
			// Both languages read whole: figures and reasons translated,
			// no raw verbs, names escaped.
			de, _ := i18n.Localize(i18n.DE, err)
			en, _ := i18n.Localize(i18n.EN, err)
			for _, bad := range []string{"%!", "\x1b", "\u202e", "(hash)", "(size)", "(missing)", "(extra)", "(duplicate)", "(files)", "total size", "transfer."} {
				if strings.Contains(de, bad) || strings.Contains(en, bad) {
					t.Errorf("message holds %q:\n%s\n%s", bad, de, en)
				}
			}
			if de == en {
				t.Errorf("not translated: %s", de)
			}
			assertNoLeftovers(t, parent, 0)
		})
	}
}

func TestOpenRefusesExistingDestination(t *testing.T) {
	id := newIdentity(t)
	env := craft(t, id, manifestFor(map[string]string{"a": "1"}), []entry{reg("files/a", "1")})
	dst := t.TempDir()
	if _, err := Open(context.Background(), bytes.NewReader(env), []age.Identity{id}, dst, Limits{}, nil); err == nil {
		t.Fatal("an existing destination was overwritten")
	}
}

// The checked-in vector was sealed once (see TestMain's -update note in
// vector_test.go); opening it pins the format against accidental change.
func TestVector(t *testing.T) {
	key, err := os.ReadFile("testdata/vector.key")
	if err != nil {
		t.Fatal(err)
	}
	ids, err := age.ParseIdentities(bytes.NewReader(key))
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open("testdata/vector.age")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dst := filepath.Join(t.TempDir(), "v")
	m, err := Open(context.Background(), f, ids, dst, Limits{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if m.Version != 1 || m.Patient.Name != "Müller^Jürgen" || len(m.Files) != 2 {
		t.Fatalf("vector manifest: %+v", m)
	}
	got, _ := os.ReadFile(filepath.Join(dst, "files", "DICOM", "IM1"))
	if string(got) != "Grüße aus dem Testvektor\n" {
		t.Fatalf("vector file: %q", got)
	}
}

func runShell(t *testing.T, cmd string) {
	t.Helper()
	if out, err := execShell(cmd); err != nil {
		t.Fatalf("%s: %v\n%s", cmd, err, out)
	}
}

var _ = io.EOF

// TestOpenCleansManifestTexts: the sender is not authenticated, and what
// it typed is shown to the clinic: control characters, terminal escapes
// and bidi overrides in the manifest's texts come out as spaces, texts
// are cut, the message keeps its line breaks.
func TestOpenCleansManifestTexts(t *testing.T) {
	id := newIdentity(t)
	good := map[string]string{"a/b.dcm": "hallo"}
	m := manifestFor(good)
	m.Sender = Sender{Name: "Dr.\x1b[2J Weiß", Practice: "Praxis \u202eztraK", Email: "a@b\x07"}
	m.Patient = Patient{Name: "Müller^Jürgen\x1b]0;x\x07", BirthDate: "19580214"}
	m.Referrer = Referrer{Name: strings.Repeat("x", 5000)}
	m.Message = "Zeile 1\r\nZeile\x1b[31m 2\nZeile 3"
	m.Studies = []Study{{StudyInstanceUID: "1.2.3", Description: "CT\x00 Thorax", Modalities: []string{"CT\x1b"}}}
	env := craft(t, id, m, []entry{reg("files/a/b.dcm", "hallo")})
	got, err := Open(context.Background(), bytes.NewReader(env), []age.Identity{id}, filepath.Join(t.TempDir(), "x"), Limits{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := Sender{Name: "Dr. [2J Weiß", Practice: "Praxis ztraK", Email: "a@b"}
	if got.Sender != want || got.Patient.Name != "Müller^Jürgen ]0;x" || len(got.Referrer.Name) != 1024 ||
		got.Message != "Zeile 1\nZeile [31m 2\nZeile 3" || got.Studies[0].Description != "CT Thorax" || got.Studies[0].Modalities[0] != "CT" {
		t.Fatalf("cleaned manifest: %+v / %+v / %q / %q / %+v", got.Sender, got.Patient, got.Referrer.Name[:10], got.Message, got.Studies)
	}
}
