package dicomscan

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/bildbote/bildbote/internal/testkit/corpus"
)

// pydicom's deliberately broken files, each with what the scan must make
// of it: indexed (code "") or skipped with a code.
func TestPydicomBrokenFiles(t *testing.T) {
	cases := []struct {
		file, code string
		check      func(t *testing.T, pa *Patient, in *Instance)
	}{
		{"MR_truncated.dcm", SkipDamaged, nil},
		{"rtplan_truncated.dcm", SkipDamaged, nil},
		{"no_meta.dcm", SkipNotDICOM, nil}, // a stray byte before the first element
		{"meta_missing_tsyntax.dcm", SkipIncomplete, nil},
		{"no_meta_group_length.dcm", SkipIncomplete, nil},
		{"SC_rgb_jpeg.dcm", "", func(t *testing.T, pa *Patient, in *Instance) {
			// The meta information says explicit VR, the data is implicit;
			// pydicom reads this SOP Instance UID.
			if in.SOPInstanceUID != "1.2.826.0.1.3680043.8.498.13002811185086637637347356263722492924" {
				t.Errorf("SOP Instance UID %q", in.SOPInstanceUID)
			}
		}},
		{"badVR.dcm", "", func(t *testing.T, pa *Patient, in *Instance) {
			if pa.Name != "Lastname^Firstname" {
				t.Errorf("name %q", pa.Name)
			}
		}},
		{"UN_sequence.dcm", SkipIncomplete, nil},
		{"JPEG2000-embedded-sequence-delimiter.dcm", "", nil},
		{"MR_small_padded.dcm", "", func(t *testing.T, pa *Patient, in *Instance) {
			if pa.Name != "CompressedSamples^MR1" {
				t.Errorf("name %q", pa.Name)
			}
		}},
		{"zipMR.gz", SkipNotDICOM, nil},
		{"ExplVR_BigEndNoMeta.dcm", "", nil},
		{"ExplVR_LitEndNoMeta.dcm", SkipDuplicate, nil}, // same UID as the big endian one, which sorts first
		{"image_dfl.dcm", "", func(t *testing.T, pa *Patient, in *Instance) {
			if in.TransferSyntaxUID != tsDeflated {
				t.Errorf("transfer syntax %q", in.TransferSyntaxUID)
			}
		}},
	}
	var paths []string
	for _, c := range cases {
		paths = append(paths, corpus.PydicomFile(t, c.file))
	}
	ix := scanMedium(t, Options{}, paths...)
	for _, c := range cases {
		pa, _, _, in := findInstance(ix, c.file)
		code := skippedCode(ix, c.file)
		switch {
		case c.code == "" && in == nil:
			t.Errorf("%s: not indexed (skipped as %q)", c.file, code)
		case c.code != "" && code != c.code:
			t.Errorf("%s: skipped as %q, want %q", c.file, code, c.code)
		case c.check != nil && in != nil:
			t.Run(c.file, func(t *testing.T) { c.check(t, pa, in) })
		}
	}
	for _, s := range ix.Skipped {
		if s.Reason == "" {
			t.Errorf("%s skipped without a reason", s.Path)
		}
	}
}

// explicitLE builds a Part 10 file: preamble, meta information with the
// transfer syntax, then the raw dataset bytes.
func explicitLE(ts string, dataset []byte) []byte {
	var b bytes.Buffer
	b.Write(make([]byte, 128))
	b.WriteString("DICM")
	uid := []byte(ts)
	if len(uid)%2 == 1 {
		uid = append(uid, 0)
	}
	b.Write([]byte{0x02, 0x00, 0x10, 0x00, 'U', 'I'})
	binary.Write(&b, binary.LittleEndian, uint16(len(uid)))
	b.Write(uid)
	b.Write(dataset)
	return b.Bytes()
}

func elem(group, element uint16, vr string, value []byte) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.LittleEndian, group)
	binary.Write(&b, binary.LittleEndian, element)
	b.WriteString(vr)
	binary.Write(&b, binary.LittleEndian, uint16(len(value)))
	b.Write(value)
	return b.Bytes()
}

// measureAlloc returns the bytes allocated while fn runs.
func measureAlloc(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// A file of about 200 bytes that declares a 4 GB element must fail fast
// without allocating or reading anything near that.
func TestHugeDeclaredLength(t *testing.T) {
	huge := func(tag [4]byte, vr string) []byte {
		b := append([]byte{}, tag[:]...)
		b = append(b, vr...)
		b = append(b, 0, 0, 0xF0, 0xFF, 0xFF, 0xFF)
		return append(b, bytes.Repeat([]byte{'x'}, 40)...)
	}
	files := map[string][]byte{
		// A sequence before the header attributes, an unknown element,
		// the pixel data, and an implicit VR value of 4 GB.
		"sq":     explicitLE(tsExplicitLE, huge([4]byte{0x08, 0x00, 0x40, 0x11}, "SQ")),
		"un":     explicitLE(tsExplicitLE, huge([4]byte{0x08, 0x00, 0x18, 0x00}, "UN")),
		"pixels": explicitLE(tsExplicitLE, append(elem(0x0008, 0x0018, "UI", []byte("1.2.3.4\x00")), huge([4]byte{0xE0, 0x7F, 0x10, 0x00}, "OW")...)),
		"implicit": append([]byte{0x08, 0x00, 0x18, 0x00, 0xF0, 0xFF, 0xFF, 0xFF},
			bytes.Repeat([]byte{'1'}, 180)...),
	}
	for name, data := range files {
		if len(data) > 260 {
			t.Fatalf("%s: test file of %d bytes", name, len(data))
		}
		for _, size := range []int64{int64(len(data)), -1} { // size known, and a stream of unknown size
			var err error
			alloc := measureAlloc(func() { _, err = ReadHeader(bytes.NewReader(data), size) })
			// The pixel data follows the header attributes: with the size
			// unknown, the reader stops before it without an error.
			if err == nil && (size >= 0 || name != "pixels") {
				t.Errorf("%s (size %d): no error", name, size)
			}
			if alloc > 1<<20 {
				t.Errorf("%s (size %d): allocated %d bytes", name, size, alloc)
			}
		}
	}
	// Through the scan, each is a damaged file (or, without the UIDs, not DICOM).
	mfs := fstest.MapFS{}
	for name, data := range files {
		mfs[name+".dcm"] = &fstest.MapFile{Data: data}
	}
	ix, err := Scan(context.Background(), &Medium{FS: mfs, Name: "huge"}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if ix.Files != 0 || len(ix.Skipped) != len(files) {
		t.Errorf("indexed %d, skipped %v", ix.Files, ix.Skipped)
	}
}

// Every prefix of a real file reads without panicking, and a file cut
// inside its pixel data is never indexed.
func TestTruncatedFiles(t *testing.T) {
	for _, name := range []string{"CT_small.dcm", "MR_small_bigendian.dcm", "rtplan.dcm", "image_dfl.dcm", "JPEG2000.dcm", "test-SR.dcm"} {
		data, err := os.ReadFile(corpus.PydicomFile(t, name))
		if err != nil {
			t.Fatal(err)
		}
		mfs := fstest.MapFS{}
		step := max(1, len(data)/300)
		for n := 0; n < len(data); n += step {
			ReadHeader(bytes.NewReader(data[:n]), int64(n))
			ReadHeader(bytes.NewReader(data[:n]), -1)
			mfs[filepath.Join("cut", name+"."+strconv.Itoa(n))] = &fstest.MapFile{Data: data[:n]}
		}
		ix, err := Scan(context.Background(), &Medium{FS: mfs}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ReadHeader(bytes.NewReader(data), int64(len(data))); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got := ix.Files + len(ix.Skipped); got != len(mfs) {
			t.Errorf("%s: %d of %d cut files accounted for", name, got, len(mfs))
		}
		// A file cut inside its (native, explicit VR) pixel data is never
		// indexed.
		pixelAt, pixelEnd := -1, -1
		if at := bytes.Index(data, []byte{0xE0, 0x7F, 0x10, 0x00, 'O'}); at >= 0 {
			pixelAt, pixelEnd = at, at+12+int(binary.LittleEndian.Uint32(data[at+8:]))
		} else if at := bytes.Index(data, []byte{0x7F, 0xE0, 0x00, 0x10, 'O'}); at >= 0 {
			pixelAt, pixelEnd = at, at+12+int(binary.BigEndian.Uint32(data[at+8:]))
		}
		damaged := 0
		for _, l := range instanceSet(ix) {
			p := strings.Fields(l)[0]
			n, _ := strconv.Atoi(p[strings.LastIndexByte(p, '.')+1:])
			if pixelAt >= 0 && pixelEnd <= len(data) && n > pixelAt && n < pixelEnd {
				t.Errorf("%s cut at %d (pixel data %d-%d) was indexed", name, n, pixelAt, pixelEnd)
			}
		}
		for _, s := range ix.Skipped {
			if s.Code == SkipDamaged {
				damaged++
			}
		}
		if damaged == 0 {
			t.Errorf("%s: no cut file was found damaged", name)
		}
	}
}

// failingFS is a medium whose named files or folders cannot be read, as
// files with mode 000 on a disk or bad sectors on a CD (tests run as root,
// which would read a chmod 000 file anyway).
type failingFS struct {
	fstest.MapFS
	bad map[string]bool
}

var errBadSector = errors.New("input/output error")

func (f failingFS) Open(name string) (fs.File, error) {
	if f.bad[name] {
		return nil, &fs.PathError{Op: "open", Path: name, Err: errBadSector}
	}
	file, err := f.MapFS.Open(name)
	if err != nil {
		return nil, err
	}
	if f.bad[name+"#read"] {
		return failingFile{file}, nil
	}
	return file, nil
}

func (f failingFS) ReadDir(name string) ([]fs.DirEntry, error) {
	if f.bad[name] {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: errBadSector}
	}
	return f.MapFS.ReadDir(name)
}

type failingFile struct{ fs.File }

func (f failingFile) Read([]byte) (int, error) { return 0, errBadSector }

func TestUnreadableFiles(t *testing.T) {
	good, err := os.ReadFile(corpus.PydicomFile(t, "CT_small.dcm"))
	if err != nil {
		t.Fatal(err)
	}
	other, _ := os.ReadFile(corpus.PydicomFile(t, "MR_small.dcm"))
	mfs := failingFS{MapFS: fstest.MapFS{
		"DICOM/GOOD":       {Data: good},
		"DICOM/LOCKED":     {Data: other},
		"DICOM/BADREAD":    {Data: other},
		"BROKEN/IM1":       {Data: other},
		"BROKEN/IM2":       {Data: other},
		"REPORT/ARZTBRIEF": {Data: []byte("%PDF-1.4 a report without an extension")},
	}, bad: map[string]bool{"DICOM/LOCKED": true, "DICOM/BADREAD#read": true, "BROKEN": true}}
	ix, err := Scan(context.Background(), &Medium{FS: mfs, Name: "bad sectors"}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if ix.Files != 1 {
		t.Errorf("indexed %d files, want 1", ix.Files)
	}
	for _, p := range []string{"DICOM/LOCKED", "DICOM/BADREAD", "BROKEN"} {
		if code := skippedCode(ix, p); code != SkipUnreadable {
			t.Errorf("%s skipped as %q, want unreadable (skipped: %v)", p, code, ix.Skipped)
		}
	}
	if len(ix.Documents) != 1 || ix.Documents[0].MIMEType != "application/pdf" {
		t.Errorf("documents %v, want the PDF recognised by content", ix.Documents)
	}
}

func TestEmptyMedium(t *testing.T) {
	ix := scanMedium(t, Options{}, t.TempDir())
	if ix.Method != MethodScan || len(ix.Patients) != 0 || ix.Files != 0 || len(ix.Warnings) != 0 {
		t.Errorf("empty folder: %+v", ix)
	}
	zp := filepath.Join(t.TempDir(), "empty.zip")
	f, _ := os.Create(zp)
	zip.NewWriter(f).Close()
	f.Close()
	ix = scanMedium(t, Options{}, zp)
	if len(ix.Patients) != 0 || ix.Files != 0 {
		t.Errorf("empty zip: %+v", ix)
	}
	var sb strings.Builder
	ix.WriteTree(&sb, "de")
	if !strings.Contains(sb.String(), "Keine DICOM-Studien") {
		t.Errorf("tree of an empty medium:\n%s", sb.String())
	}
}

// A ZIP whose entries climb out with "../" is read in place: the entries
// appear inside the medium (archive/zip's fs.FS view cleans the names) and
// nothing outside the archive is touched.
func TestZipSlip(t *testing.T) {
	// Both ways Go reads such names: by default, and with
	// zipinsecurepath=0, where it flags them (ErrInsecurePath).
	for _, godebug := range []string{"", "zipinsecurepath=0"} {
		t.Run("GODEBUG="+godebug, func(t *testing.T) {
			t.Setenv("GODEBUG", godebug)
			testZipSlip(t)
		})
	}
}

func testZipSlip(t *testing.T) {
	good, err := os.ReadFile(corpus.PydicomFile(t, "CT_small.dcm"))
	if err != nil {
		t.Fatal(err)
	}
	zp := filepath.Join(t.TempDir(), "slip.zip")
	f, _ := os.Create(zp)
	zw := zip.NewWriter(f)
	for _, name := range []string{"../../evil.dcm", "/abs/evil2.dcm", "DICOM/../../evil3.dcm"} {
		w, _ := zw.Create(name)
		w.Write(good)
	}
	zw.Close()
	f.Close()

	m, err := Open(zp)
	if err != nil {
		t.Fatalf("a CD whose names climb out is read inside the archive, not refused: %v", err)
	}
	defer m.Close()
	ix, err := Scan(context.Background(), m, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if ix.Files != 1 || ix.Duplicates != 2 {
		t.Errorf("files %d, duplicates %d; want 1 and 2 (same file three times)", ix.Files, ix.Duplicates)
	}
	for _, l := range append(instanceSet(ix), skippedPaths(ix)...) {
		if strings.Contains(l, "..") || strings.HasPrefix(l, "/") {
			t.Errorf("path outside the medium: %q", l)
		}
	}
}

func skippedPaths(ix *Index) []string {
	var out []string
	for _, s := range ix.Skipped {
		out = append(out, s.Path)
	}
	return out
}

// countingProgress cancels the scan after a number of files.
type countingProgress struct {
	cancel func()
	after  int
	last   Counts
	calls  int
}

func (p *countingProgress) Update(c Counts) {
	p.calls++
	p.last = c
	if c.Files == p.after {
		p.cancel()
	}
}

func TestProgressAndCancel(t *testing.T) {
	res := smallCD(t)
	m, err := Open(res.Dir)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()

	prog := &countingProgress{after: -1}
	ix, err := Scan(context.Background(), m, Options{Progress: prog, IgnoreDICOMDIR: true})
	if err != nil {
		t.Fatal(err)
	}
	onDisk := ix.Files + len(ix.Documents) + len(ix.Skipped)
	if prog.last.Files != onDisk || prog.last.Bytes < ix.Bytes {
		t.Errorf("last progress %+v, want %d files and at least %d bytes", prog.last, onDisk, ix.Bytes)
	}

	ctx, cancel := context.WithCancel(context.Background())
	prog = &countingProgress{after: 5, cancel: cancel}
	_, err = Scan(ctx, m, Options{Progress: prog, IgnoreDICOMDIR: true, Workers: 2})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled scan: %v", err)
	}
	if prog.calls > 5+2+64 { // the files already in flight may still report
		t.Errorf("%d progress calls after cancelling at 5", prog.calls)
	}

	ctx, cancel = context.WithCancel(context.Background())
	cancel()
	if _, err := Scan(ctx, m, Options{}); !errors.Is(err, context.Canceled) {
		t.Errorf("scan with a cancelled context: %v", err)
	}
}

// A damaged ISO image (any byte of its volume descriptors and directories
// flipped) is refused or scanned, never a panic or a hang.
func TestCorruptISO(t *testing.T) {
	corpus.Tool(t, "xorriso")
	src := t.TempDir()
	for _, name := range []string{"CT_small.dcm", "MR_small.dcm"} {
		copyFile(t, corpus.PydicomFile(t, name), filepath.Join(src, "DICOM", strings.ToUpper(strings.TrimSuffix(name, ".dcm"))))
	}
	iso := filepath.Join(t.TempDir(), "cd.iso")
	if out, err := exec.Command(corpus.Tool(t, "xorriso"), "-as", "mkisofs", "-quiet", "-R", "-o", iso, src).CombinedOutput(); err != nil {
		t.Fatalf("xorriso: %v\n%s", err, out)
	}
	good, err := os.ReadFile(iso)
	if err != nil {
		t.Fatal(err)
	}
	if ix := scanMedium(t, Options{}, iso); ix.Files != 2 {
		t.Fatalf("intact ISO: %d files", ix.Files)
	}
	bad := filepath.Join(t.TempDir(), "bad.iso")
	// The volume descriptors and directory records sit in the first
	// sectors after the 32 KiB system area.
	for at := 16 * 2048; at < min(len(good), 40*2048); at += 37 {
		data := append([]byte(nil), good...)
		data[at] ^= 0xA5
		if err := os.WriteFile(bad, data, 0o644); err != nil {
			t.Fatal(err)
		}
		m, err := Open(bad)
		if err != nil {
			continue
		}
		if _, err := Scan(context.Background(), m, Options{}); err != nil {
			t.Errorf("byte %d flipped: scan failed: %v", at, err)
		}
		m.Close()
	}
}

// Symbolic links are not followed, neither by the full scan nor through a
// DICOMDIR: a link could lead to another patient's files outside the medium.
func TestSymlinksNotFollowed(t *testing.T) {
	outside := t.TempDir()
	copyFile(t, corpus.PydicomFile(t, "CT_small.dcm"), filepath.Join(outside, "OTHER"))
	dir := dicomdirTree(t, "DICOMDIR")
	// Replace a referenced file by a link to a file outside the medium.
	victim := filepath.Join(dir, "98892001", "CT2N", "6293")
	if err := os.Remove(victim); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(outside, "OTHER"), victim); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(dir, "LINKDIR")); err != nil {
		t.Fatal(err)
	}
	ix := scanMedium(t, Options{}, dir)
	if ix.Method != MethodScan || !strings.Contains(ix.FallbackReason, "missing") {
		t.Errorf("method %q, fallback %q: a linked file must not count as present", ix.Method, ix.FallbackReason)
	}
	for _, p := range []string{"98892001/CT2N/6293", "LINKDIR"} {
		if code := skippedCode(ix, p); code != SkipNotRegular {
			t.Errorf("%s skipped as %q, want not-regular", p, code)
		}
	}
	for _, l := range instanceSet(ix) {
		if strings.Contains(l, "OTHER") || strings.Contains(l, "6293 ") {
			t.Errorf("followed a link: %s", l)
		}
	}
}

// A deflated dataset that inflates to gigabytes (a deflate bomb declaring a
// huge value before the header attributes) and an endless stream of unknown
// size both end early, without reading more than the stream bound.
func TestDeflateBombAndEndlessStream(t *testing.T) {
	// (0008,1140) OB of 1 GiB, of which 72 MiB of zeros follow (more than
	// the 64 MiB bound): deflated,
	// well under a megabyte.
	var deflated bytes.Buffer
	fw, _ := flate.NewWriter(&deflated, flate.BestSpeed)
	fw.Write([]byte{0x08, 0x00, 0x40, 0x11, 'O', 'B', 0, 0, 0, 0, 0, 0x40})
	zeros := make([]byte, 1<<20)
	for range 72 {
		fw.Write(zeros)
	}
	fw.Close()
	file := explicitLE(tsDeflated, deflated.Bytes())
	if _, err := ReadHeader(bytes.NewReader(file), int64(len(file))); err == nil {
		t.Error("deflate bomb: no error")
	}

	// Zeros parse as empty elements forever; the reader stops at its bound.
	endless := &countingReader{r: zeroReader{}}
	ReadHeader(io.MultiReader(bytes.NewReader(explicitLE(tsExplicitLE, nil)), endless), -1)
	if endless.n > maxUnsizedStream+1<<20 {
		t.Errorf("read %d bytes of an endless stream", endless.n)
	}
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) { clear(p); return len(p), nil }

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// A ZIP entry cannot be seeked in: skipping a huge declared value inflates
// it. The reader stops after a bounded amount instead of inflating it all.
func TestZipBomb(t *testing.T) {
	zp := filepath.Join(t.TempDir(), "bomb.zip")
	f, err := os.Create(zp)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(f)
	w, _ := zw.Create("DICOM/IM1")
	// A value of 70 MiB: it fits in the entry, so only the bound stops it.
	w.Write(explicitLE(tsExplicitLE, []byte{0x08, 0x00, 0x40, 0x11, 'O', 'B', 0, 0, 0x00, 0x00, 0x60, 0x04}))
	zeros := make([]byte, 1<<20)
	for range 70 {
		w.Write(zeros)
	}
	// The identifiers after it: only a reader that inflated all 70 MiB
	// would find them and index the file.
	w.Write(elem(0x0008, 0x0018, "UI", pad("1.2.3.4.5")))
	w.Write(elem(0x0020, 0x000D, "UI", pad("1.2.3")))
	w.Write(elem(0x0020, 0x000E, "UI", pad("1.2.3.4")))
	zw.Close()
	f.Close()
	ix := scanMedium(t, Options{}, zp)
	if code := skippedCode(ix, "DICOM/IM1"); code != SkipDamaged {
		t.Errorf("bomb skipped as %q, want damaged", code)
	}
}
