package envelope

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"filippo.io/age"
	"github.com/bildbote/bildbote/dicomscan"
	"github.com/bildbote/bildbote/internal/gencd"
	"github.com/bildbote/bildbote/internal/testkit/corpus"
)

var (
	benchOnce sync.Once
	benchTemp bool // benchDir was generated here and is removed by TestMain
	benchDir  string
	benchIx   *dicomscan.Index
	benchErr  error
)

// benchCD is the generator's realistic patient CD (2000 files of CT and MR,
// ~0.5 MB each), scanned by dicomscan; BILDBOTE_BENCH_CD reuses a CD
// generated earlier with `go run ./testdata/gencd -out DIR`.
func benchCD(b *testing.B) (string, *dicomscan.Index) {
	b.Helper()
	benchOnce.Do(func() {
		benchDir = os.Getenv("BILDBOTE_BENCH_CD")
		if benchDir == "" {
			benchDir, benchErr = os.MkdirTemp("", "bildbote-bench-cd-")
			if benchErr != nil {
				return
			}
			benchTemp = true
			if _, benchErr = gencd.Generate(benchDir, gencd.Options{Files: 2000}); benchErr != nil {
				return
			}
		}
		m, err := dicomscan.Open(benchDir)
		if err != nil {
			benchErr = err
			return
		}
		benchIx, benchErr = dicomscan.Scan(context.Background(), m, dicomscan.Options{})
	})
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	return benchDir, benchIx
}

// BenchmarkSeal measures Seal on the generated CD against the same work
// done by the reference tools: sha256sum of every file (Seal's manifest),
// tar | zstd -1 -T2 | age, sha256sum of the envelope (for the upload) —
// and against the bare pipeline without the hashing. All read the files
// from the page cache. Reported: MB/s of input, the envelope size in % of
// it, and CPU seconds per run.
func BenchmarkSeal(b *testing.B) {
	dir, ix := benchCD(b)
	id, _ := age.GenerateX25519Identity()
	out := b.TempDir()
	b.Run("bildbote", func(b *testing.B) {
		b.SetBytes(ix.Bytes)
		var size int64
		cpu0 := cpuTime(false)
		for i := 0; i < b.N; i++ {
			res, err := Seal(context.Background(), SealInput{Index: ix, Recipients: []string{id.Recipient().String()}}, filepath.Join(out, "send.age"), nil)
			if err != nil {
				b.Fatal(err)
			}
			size = res.Size
		}
		b.ReportMetric(100*float64(size)/float64(ix.Bytes), "%size")
		b.ReportMetric((cpuTime(false)-cpu0).Seconds()/float64(b.N), "cpu-s/op")
	})
	// The same work as Seal: a SHA-256 of every file for the manifest,
	// then the pipeline, then the envelope's SHA-256 for the upload.
	peer(b, "sha256sum+tar|zstd-1|age+sha256sum", dir, ix, id, out,
		`cd "$1" && find DICOM -type f -exec sha256sum {} + > "$3.sums" && tar -cf - DICOM | zstd -1 -T2 -q -c | age -r "$2" > "$3" && sha256sum "$3" > /dev/null`)
	peer(b, "tar|zstd-1|age", dir, ix, id, out, `tar -C "$1" -cf - DICOM | zstd -1 -T2 -q -c | age -r "$2" > "$3"`)
}

// peer runs a shell pipeline of the reference tools as a sub-benchmark.
func peer(b *testing.B, name, dir string, ix *dicomscan.Index, id *age.X25519Identity, out, script string) {
	b.Run(name, func(b *testing.B) {
		for _, tool := range []string{"tar", "zstd", "age", "sha256sum"} {
			corpus.Tool(b, tool)
		}
		b.SetBytes(ix.Bytes)
		dst := filepath.Join(out, "peer.age")
		cpu0 := cpuTime(true)
		for i := 0; i < b.N; i++ {
			cmd := exec.Command("sh", "-c", script, "sh", dir, id.Recipient().String(), dst)
			if o, err := cmd.CombinedOutput(); err != nil {
				b.Fatalf("%v: %s", err, o)
			}
		}
		fi, _ := os.Stat(dst)
		b.ReportMetric(100*float64(fi.Size())/float64(ix.Bytes), "%size")
		b.ReportMetric((cpuTime(true)-cpu0).Seconds()/float64(b.N), "cpu-s/op")
	})
}

func TestMain(m *testing.M) {
	code := m.Run()
	if benchTemp {
		os.RemoveAll(benchDir)
	}
	os.Exit(code)
}
