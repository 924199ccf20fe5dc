package dicomscan

import (
	"bytes"
	"context"
	"io"
	"io/fs"
	"os"
	"testing"

	"github.com/bildbote/bildbote/internal/gencd"
	"github.com/bildbote/bildbote/internal/testkit/corpus"
)

// BenchmarkReadHeader parses a real CT header from memory: the CPU cost
// per file, without I/O.
func BenchmarkReadHeader(b *testing.B) {
	data, err := os.ReadFile(corpus.PydicomFile(b, "CT_small.dcm"))
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, headerChunk)
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := readHeader(bytes.NewReader(data), int64(len(data)), buf); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkScan compares, in one run, the full scan and the DICOMDIR path
// of a generated CD (200 files of 64x64) with the floor: reading the first
// 16 KiB of every file. bench/scan.sh measures the 2000-file CD against
// the peers.
func BenchmarkScan(b *testing.B) {
	corpus.Tool(b, "dcmmkdir")
	res, err := gencd.Generate(b.TempDir(), gencd.Options{Files: 200, PixelSize: 64, DICOMDIR: true})
	if err != nil {
		b.Fatal(err)
	}
	m, err := Open(res.Dir)
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	b.Run("floor", func(b *testing.B) {
		buf := make([]byte, 16<<10)
		for b.Loop() {
			fs.WalkDir(m.FS, ".", func(p string, d fs.DirEntry, err error) error {
				if err == nil && d.Type().IsRegular() {
					f, err := m.FS.Open(p)
					if err == nil {
						io.ReadFull(f, buf)
						f.Close()
					}
				}
				return err
			})
		}
	})
	for _, c := range []struct {
		name string
		opts Options
	}{{"full", Options{IgnoreDICOMDIR: true}}, {"dicomdir", Options{}}} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				ix, err := Scan(context.Background(), m, c.opts)
				if err != nil || ix.Files != res.Files {
					b.Fatalf("%v, %d files", err, ix.Files)
				}
			}
		})
	}
}

// BenchmarkReadHeaderCD parses the header of a generated CD image (the
// kind bench/scan.sh scans, Latin-1 names) from memory the way a full
// scan's worker does: its buffer reused, repeating values shared.
func BenchmarkReadHeaderCD(b *testing.B) {
	res, err := gencd.Generate(b.TempDir(), gencd.Options{Files: gencd.MinFiles, PixelSize: 64})
	if err != nil {
		b.Fatal(err)
	}
	var data []byte
	fs.WalkDir(os.DirFS(res.Dir), "DICOM", func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() && data == nil {
			data, err = os.ReadFile(res.Dir + "/" + p)
		}
		return err
	})
	buf := make([]byte, headerChunk)
	strs := newInterner()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := readHeaderInterned(bytes.NewReader(data), int64(len(data)), buf, strs); err != nil {
			b.Fatal(err)
		}
	}
}
