package envelope

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/bildbote/bildbote/dicomscan"
	"github.com/bildbote/bildbote/transfer"
	"github.com/klauspost/compress/zstd"
)

// pseudoImage is n bytes that compress like a CT slice: smooth runs with
// noise, different for every seed.
func pseudoImage(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 7))
	b := make([]byte, 0, n)
	for len(b) < n {
		run := min(n-len(b), 1+r.IntN(16))
		v := byte(r.IntN(256))
		for range run {
			b = append(b, v)
		}
	}
	return b
}

// bigMedium is a one-study medium whose files span several compression
// frames, so the workers really run in parallel.
func bigMedium(t *testing.T, files, size int) (*dicomscan.Index, string) {
	t.Helper()
	dir := t.TempDir()
	ix := &dicomscan.Index{Source: dir, Method: "scan"}
	se := &dicomscan.Series{InstanceUID: "1.2.9.1", Modality: "CT"}
	for i := range files {
		rel := fmt.Sprintf("DICOM/ST000001/SE000001/IM%06d", i)
		data := pseudoImage(size+i, uint64(i))
		if err := os.MkdirAll(filepath.Join(dir, path.Dir(rel)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, rel), data, 0o644); err != nil {
			t.Fatal(err)
		}
		se.Instances = append(se.Instances, &dicomscan.Instance{SOPInstanceUID: fmt.Sprintf("1.2.9.1.%d", i), Path: rel, Size: int64(len(data))})
		ix.Files++
		ix.Bytes += int64(len(data))
	}
	st := &dicomscan.Study{InstanceUID: "1.2.9", Modalities: []string{"CT"}, Series: []*dicomscan.Series{se}}
	ix.Patients = []*dicomscan.Patient{{Name: "Test^Frames", ID: "1", Studies: []*dicomscan.Study{st}}}
	ix.SetFS(os.DirFS(dir))
	return ix, dir
}

// countFrames counts the zstd frames of an envelope's plaintext.
func countFrames(t *testing.T, compressed []byte) int {
	t.Helper()
	n := 0
	for len(compressed) > 0 {
		var h zstd.Header
		if err := h.Decode(compressed); err != nil {
			t.Fatal(err)
		}
		// Skip the frame by decoding it alone.
		dec, _ := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1))
		out, err := dec.DecodeAll(compressed[:frameLen(t, compressed)], nil)
		dec.Close()
		if err != nil || (h.HasFCS && uint64(len(out)) != h.FrameContentSize) {
			t.Fatalf("frame %d: %d bytes, %v", n, len(out), err)
		}
		compressed = compressed[frameLen(t, compressed):]
		n++
	}
	return n
}

// frameLen walks a frame's blocks (RFC 8878, 3.1.1) to find its length.
func frameLen(t *testing.T, b []byte) int {
	t.Helper()
	var h zstd.Header
	if err := h.Decode(b); err != nil {
		t.Fatal(err)
	}
	pos := h.HeaderSize
	for {
		bh := uint32(b[pos]) | uint32(b[pos+1])<<8 | uint32(b[pos+2])<<16
		last, typ, size := bh&1 == 1, (bh>>1)&3, int(bh>>3)
		pos += 3
		if typ == 1 { // RLE: one byte
			size = 1
		}
		pos += size
		if last {
			break
		}
	}
	if h.HasCheckSum {
		pos += 4
	}
	return pos
}

func TestFrameWriterRoundTrip(t *testing.T) {
	for _, n := range []int{0, 1, frameSize - 1, frameSize, 3*frameSize + 7} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			data := pseudoImage(n, uint64(n))
			var out bytes.Buffer
			fw, err := newFrameWriter(&out, 2, zstdOptions()...)
			if err != nil {
				t.Fatal(err)
			}
			// Odd write sizes so frames are cut inside writes.
			for rest := data; len(rest) > 0; {
				k := min(len(rest), 300_001)
				if _, err := fw.Write(rest[:k]); err != nil {
					t.Fatal(err)
				}
				rest = rest[k:]
			}
			if err := fw.Close(); err != nil {
				t.Fatal(err)
			}
			if want := (n + frameSize - 1) / frameSize; countFrames(t, out.Bytes()) != want {
				t.Errorf("want %d frames", want)
			}
			dec, _ := zstd.NewReader(&out)
			defer dec.Close()
			got, err := io.ReadAll(dec)
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("decoded %d of %d bytes equal=%v: %v", len(got), n, bytes.Equal(got, data), err)
			}
		})
	}
}

// failingWriter accepts limit bytes, then fails like a full disk.
type failingWriter struct{ limit int }

var errDiskGone = errors.New("disk gone")

func (f *failingWriter) Write(p []byte) (int, error) {
	if len(p) > f.limit {
		return 0, errDiskGone
	}
	f.limit -= len(p)
	return len(p), nil
}

// A failing write of one frame stops the writer: later Writes and Close
// report it, and no goroutine is left behind.
func TestFrameWriterWriteError(t *testing.T) {
	before := runtime.NumGoroutine()
	fw, err := newFrameWriter(&failingWriter{limit: 1000}, 2, zstdOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	data := pseudoImage(1<<20, 3)
	var werr error
	for i := 0; i < 200 && werr == nil; i++ {
		_, werr = fw.Write(data)
	}
	if !errors.Is(werr, errDiskGone) {
		t.Errorf("Write after a failed frame: %v", werr)
	}
	if err := fw.Close(); !errors.Is(err, errDiskGone) {
		t.Errorf("Close: %v", err)
	}
	waitGoroutines(t, before)
}

func TestFrameWriterAbort(t *testing.T) {
	before := runtime.NumGoroutine()
	var out bytes.Buffer
	fw, _ := newFrameWriter(&out, 2, zstdOptions()...)
	fw.Write(pseudoImage(3*frameSize, 1))
	fw.abort()
	if _, err := fw.Write([]byte("x")); !errors.Is(err, errFramesAborted) {
		t.Errorf("Write after abort: %v", err)
	}
	waitGoroutines(t, before)
}

func waitGoroutines(t *testing.T, want int) {
	t.Helper()
	for i := 0; runtime.NumGoroutine() > want; i++ {
		if i == 100 {
			t.Fatalf("%d goroutines left, want %d", runtime.NumGoroutine(), want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A multi-frame envelope opens and verifies like a single-frame one.
func TestSealOpenManyFrames(t *testing.T) {
	ix, src := bigMedium(t, 6, 3<<20)
	id := newIdentity(t)
	spool, res := seal(t, SealInput{Index: ix, Recipients: []string{id.Recipient().String()}})
	if res.Size >= ix.Bytes {
		t.Errorf("envelope %d bytes for %d bytes of input: not compressed", res.Size, ix.Bytes)
	}
	raw, _ := os.ReadFile(spool)
	ar, err := age.Decrypt(bytes.NewReader(raw), id)
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := io.ReadAll(ar)
	if n := countFrames(t, plain); n < 4 {
		t.Errorf("%d frames, want several", n)
	}
	if rm, err := ReadManifest(context.Background(), bytes.NewReader(raw), []age.Identity{id}); err != nil || len(rm.Files) != 6 {
		t.Fatalf("ReadManifest: %v", err)
	}
	f, _ := os.Open(spool)
	defer f.Close()
	dst := filepath.Join(t.TempDir(), "out")
	m, err := Open(context.Background(), f, []age.Identity{id}, dst, Limits{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, file := range m.Files {
		want, _ := os.ReadFile(filepath.Join(src, filepath.FromSlash(file.Path)))
		got, _ := os.ReadFile(filepath.Join(dst, FilesPrefix, filepath.FromSlash(file.Path)))
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs", file.Path)
		}
	}
}

// Cancelling while the workers compress stops Seal with context.Canceled,
// leaves no spool file and no goroutine.
func TestSealCancelledMidway(t *testing.T) {
	ix, _ := bigMedium(t, 6, 3<<20)
	before := runtime.NumGoroutine()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	spoolDir := t.TempDir()
	progress := transfer.ProgressFunc(func(s transfer.Status) {
		if s.State == transfer.StateSealing && s.Done > 2*frameSize {
			cancel()
		}
	})
	_, err := Seal(ctx, SealInput{Index: ix, Recipients: []string{newIdentity(t).Recipient().String()}}, filepath.Join(spoolDir, "send.age"), progress)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled mid-seal: %v", err)
	}
	assertNoLeftovers(t, spoolDir, 0)
	waitGoroutines(t, before)
}

// A file that reads differently in the packing pass than in the hashing
// pass, after several frames are already compressed, fails Seal.
func TestSealSourceChangedMidway(t *testing.T) {
	ix, dir := bigMedium(t, 6, 3<<20)
	changed := "DICOM/ST000001/SE000001/IM000004"
	ix.SetFS(&changingFS{FS: os.DirFS(dir), path: changed})
	before := runtime.NumGoroutine()
	spoolDir := t.TempDir()
	_, err := Seal(context.Background(), SealInput{Index: ix, Recipients: []string{newIdentity(t).Recipient().String()}}, filepath.Join(spoolDir, "send.age"), nil)
	var sc *SourceChangedError
	if !errors.As(err, &sc) || sc.Path != changed {
		t.Fatalf("changed source: %v", err)
	}
	assertNoLeftovers(t, spoolDir, 0)
	waitGoroutines(t, before)
}

// writeTar puts the files' bytes straight into the frames; the stream
// must still be the one archive/tar writes for the same entries (odd
// sizes, so every entry needs padding, and files across frame borders).
func TestSealTarIsArchiveTars(t *testing.T) {
	ix, src := bigMedium(t, 5, 1<<20+3)
	id := newIdentity(t)
	spool, _ := seal(t, SealInput{Index: ix, Recipients: []string{id.Recipient().String()}})
	raw, _ := os.ReadFile(spool)
	ar, err := age.Decrypt(bytes.NewReader(raw), id)
	if err != nil {
		t.Fatal(err)
	}
	dec, _ := zstd.NewReader(ar)
	defer dec.Close()
	plain, err := io.ReadAll(dec)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(bytes.NewReader(plain))
	hdr, err := tr.Next()
	if err != nil || hdr.Name != ManifestName {
		t.Fatalf("first entry %v: %v", hdr, err)
	}
	manifest, _ := io.ReadAll(tr)
	var m Manifest
	if err := json.Unmarshal(manifest, &m); err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	tw := tar.NewWriter(&want)
	add := func(name string, data []byte) {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Size: int64(len(data)), Mode: 0o644, ModTime: m.Created, Format: tar.FormatPAX}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	add(ManifestName, manifest)
	for _, f := range m.Files {
		data, _ := os.ReadFile(filepath.Join(src, filepath.FromSlash(f.Path)))
		add(FilesPrefix+f.Path, data)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(plain, want.Bytes()) {
		t.Fatalf("tar stream differs from archive/tar's: %d bytes, want %d", len(plain), want.Len())
	}
}

// A file that grew between the hashing and the packing pass (its first
// Size bytes unchanged) fails Seal too.
func TestSealSourceGrew(t *testing.T) {
	ix, dir := bigMedium(t, 3, 1<<20)
	grown := "DICOM/ST000001/SE000001/IM000001"
	ix.SetFS(&growingFS{FS: os.DirFS(dir), path: grown})
	spoolDir := t.TempDir()
	_, err := Seal(context.Background(), SealInput{Index: ix, Recipients: []string{newIdentity(t).Recipient().String()}}, filepath.Join(spoolDir, "send.age"), nil)
	var sc *SourceChangedError
	if !errors.As(err, &sc) || sc.Path != grown {
		t.Fatalf("grown source: %v", err)
	}
	assertNoLeftovers(t, spoolDir, 0)
}

// growingFS appends a byte to path from its second opening on (the first
// is the hashing pass's).
type growingFS struct {
	fs.FS
	path  string
	opens int
}

func (g *growingFS) Open(name string) (fs.File, error) {
	f, err := g.FS.Open(name)
	if err != nil || name != g.path {
		return f, err
	}
	g.opens++
	if g.opens == 1 {
		return f, nil
	}
	return &grownFile{File: f, extra: []byte{'x'}}, nil
}

type grownFile struct {
	fs.File
	extra []byte
}

func (g *grownFile) Read(p []byte) (int, error) {
	n, err := g.File.Read(p)
	if err == io.EOF && len(g.extra) > 0 {
		n = copy(p, g.extra)
		g.extra = g.extra[n:]
		return n, nil
	}
	return n, err
}
