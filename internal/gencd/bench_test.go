package gencd_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/bildbote/bildbote/internal/gencd"
)

const benchFiles = 200 // ~100 MB of full-size images

// BenchmarkGenerate writes a full-size CD of benchFiles files per
// iteration. Compare with BenchmarkWriteFloor, which writes files of the
// same sizes and layout without building them: the difference is the
// generator's own cost.
func BenchmarkGenerate(b *testing.B) {
	dir := b.TempDir()
	var res *gencd.Result
	for b.Loop() {
		var err error
		if res, err = gencd.Generate(dir, gencd.Options{Files: benchFiles}); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(res.Bytes)
}

// BenchmarkWriteFloor is the peer: the same files written from a ready
// buffer with the same number of workers, i.e. what the file system costs.
func BenchmarkWriteFloor(b *testing.B) {
	dir := b.TempDir()
	res, err := gencd.Generate(b.TempDir(), gencd.Options{Files: benchFiles, PixelSize: 1})
	if err != nil {
		b.Fatal(err)
	}
	full, err := gencd.Generate(b.TempDir(), gencd.Options{Files: benchFiles})
	if err != nil {
		b.Fatal(err)
	}
	sizes := full.AllInstances()
	paths := res.AllInstances()
	for _, in := range paths {
		if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(in.Path)), 0o755); err != nil {
			b.Fatal(err)
		}
	}
	buf := make([]byte, 1<<20)
	workers := 2
	b.ResetTimer()
	for b.Loop() {
		errs := make(chan error, workers)
		for w := 0; w < workers; w++ {
			go func(w int) {
				for i := w; i < len(paths); i += workers {
					p := filepath.Join(dir, filepath.FromSlash(paths[i].Path))
					if err := os.WriteFile(p, buf[:sizes[i].Size], 0o644); err != nil {
						errs <- fmt.Errorf("write %s: %w", p, err)
						return
					}
				}
				errs <- nil
			}(w)
		}
		for w := 0; w < workers; w++ {
			if err := <-errs; err != nil {
				b.Fatal(err)
			}
		}
	}
	b.SetBytes(full.Bytes)
}
