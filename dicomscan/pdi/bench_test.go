package pdi

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/bildbote/bildbote/dicomscan"
	"github.com/bildbote/bildbote/internal/gencd"
	"github.com/bildbote/bildbote/internal/testkit/corpus"
)

// The benchmarks run on the realistic synthetic patient CD (2000 files of
// ~0.5 MB: 512x512 CT, 360x360 MR; BENCH_PDI_FILES overrides the count),
// generated once per run, warm cache. The peer is dcmtk's dcmmkdir, which
// only writes a DICOMDIR for files already in place; WriteDir copies every
// file as well. Run: go test -run '^$' -bench . ./dicomscan/pdi

var (
	benchOnce sync.Once
	benchDir  string
	benchIdx  *dicomscan.Index
	benchErr  error
)

func benchCD(b *testing.B) (string, *dicomscan.Index) {
	b.Helper()
	benchOnce.Do(func() {
		benchDir, benchErr = os.MkdirTemp("", "pdi-bench-")
		if benchErr != nil {
			return
		}
		files := 2000
		if v := os.Getenv("BENCH_PDI_FILES"); v != "" {
			if _, err := fmtSscan(v, &files); err != nil {
				benchErr = err
				return
			}
		}
		if _, benchErr = gencd.Generate(benchDir, gencd.Options{Files: files, Documents: true}); benchErr != nil {
			return
		}
		m, err := dicomscan.Open(benchDir)
		if err != nil {
			benchErr = err
			return
		}
		benchIdx, benchErr = dicomscan.Scan(context.Background(), m, dicomscan.Options{})
	})
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	return benchDir, benchIdx
}

type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

func benchZip(b *testing.B, policy zipPolicy) {
	_, idx := benchCD(b)
	b.SetBytes(idx.Bytes)
	var out int64
	for i := 0; i < b.N; i++ {
		var cw countWriter
		if _, err := writeZip(context.Background(), &cw, idx, Options{IncludeDocuments: true}, zipTuning{policy: policy}); err != nil {
			b.Fatal(err)
		}
		out = cw.n
	}
	b.ReportMetric(float64(out)/float64(idx.Bytes), "zip/src")
}

// BenchmarkWriteZip compares the entry methods: deflate everything at the
// fastest level (the default), store everything, and store only the
// compressed transfer syntaxes. zip/src is the ZIP size over the source
// size.
func BenchmarkWriteZip(b *testing.B) {
	b.Run("deflate-all", func(b *testing.B) { benchZip(b, zipDeflateAll) })
	b.Run("store", func(b *testing.B) { benchZip(b, zipStoreAll) })
	b.Run("store-compressed", func(b *testing.B) { benchZip(b, zipDeflateUncompressed) })
}

// BenchmarkWriteDir copies the CD into a new file-set folder with a
// DICOMDIR and validates the first one written.
func BenchmarkWriteDir(b *testing.B) {
	_, idx := benchCD(b)
	b.SetBytes(idx.Bytes)
	for i := 0; i < b.N; i++ {
		out := filepath.Join(b.TempDir(), "fs")
		if _, err := WriteDir(context.Background(), out, idx, Options{}); err != nil {
			b.Fatal(err)
		}
		if i == 0 {
			b.StopTimer()
			validate := exec.Command(corpus.Tool(b, "dcdirdmp"), filepath.Join(out, "DICOMDIR"))
			validate.Stdout = io.Discard
			if err := validate.Run(); err != nil {
				b.Fatalf("dcdirdmp: %v", err)
			}
			b.StartTimer()
		}
		b.StopTimer()
		os.RemoveAll(out)
		b.StartTimer()
	}
}

// BenchmarkDcmmkdir is the peer: dcmmkdir +r over the CD's DICOM/ tree,
// writing only the DICOMDIR (the files stay where they are).
func BenchmarkDcmmkdir(b *testing.B) {
	dir, idx := benchCD(b)
	tool := corpus.Tool(b, "dcmmkdir")
	b.SetBytes(idx.Bytes)
	for i := 0; i < b.N; i++ {
		out := filepath.Join(b.TempDir(), "DICOMDIR")
		cmd := exec.Command(tool, "-q", "+r", "+I", "+D", out, "DICOM")
		cmd.Dir = dir
		if msg, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("dcmmkdir: %v\n%s", err, msg)
		}
		if i == 0 {
			b.StopTimer()
			checkPeerDICOMDIR(b, dir, out)
			b.StartTimer()
		}
	}
}

// checkPeerDICOMDIR validates dcmmkdir's DICOMDIR with the same tools as
// ours (it references files relative to the CD, so it is checked there).
func checkPeerDICOMDIR(b *testing.B, cd, dicomdir string) {
	b.Helper()
	inPlace := filepath.Join(cd, "DICOMDIR")
	data, err := os.ReadFile(dicomdir)
	if err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(inPlace, data, 0o644); err != nil {
		b.Fatal(err)
	}
	defer os.Remove(inPlace)
	for _, tool := range []string{"dcdirdmp", "dciodvfy"} {
		cmd := exec.Command(corpus.Tool(b, tool), inPlace)
		if msg, err := cmd.CombinedOutput(); err != nil {
			b.Errorf("%s of dcmmkdir's DICOMDIR: %v\n%.2000s", tool, err, msg)
		}
	}
}

func fmtSscan(s string, v *int) (int, error) { return fmt.Sscan(s, v) }

// TestMain removes the benchmark CD after the run.
func TestMain(m *testing.M) {
	code := m.Run()
	if benchDir != "" {
		os.RemoveAll(benchDir)
	}
	os.Exit(code)
}
