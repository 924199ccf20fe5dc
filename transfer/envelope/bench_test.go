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
	"github.com/bildbote/bildbote/internal/testkit/corpus"
	"github.com/bildbote/bildbote/internal/testkit/gencd"
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
// done by the reference tools in one pipeline: tar | zstd -1 -T2 | age.
// Both read the files from the page cache; Seal reads them twice (hash,
// then pack). Reported: MB/s of input, and the envelope size in % of it.
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
	b.Run("tar|zstd-1|age", func(b *testing.B) {
		for _, tool := range []string{"tar", "zstd", "age"} {
			corpus.Tool(b, tool)
		}
		b.SetBytes(ix.Bytes)
		dst := filepath.Join(out, "peer.age")
		cpu0 := cpuTime(true)
		for i := 0; i < b.N; i++ {
			cmd := exec.Command("sh", "-c", `tar -C "$1" -cf - DICOM | zstd -1 -T2 -q -c | age -r "$2" > "$3"`, "sh", dir, id.Recipient().String(), dst)
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
