package envelope

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"filippo.io/age"
)

// FuzzOpen feeds mutated envelopes (sealed to the test vector's key, so
// the fuzzer gets past age's header) to Open: it must never panic, never
// write outside its destination, and leave nothing behind on error.
func FuzzOpen(f *testing.F) {
	vector, err := os.ReadFile("testdata/vector.age")
	if err != nil {
		f.Fatal(err)
	}
	keyData, _ := os.ReadFile("testdata/vector.key")
	ids, err := age.ParseIdentities(bytes.NewReader(keyData))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(vector)
	f.Add(vector[:len(vector)/2])
	f.Fuzz(func(t *testing.T, data []byte) {
		parent := t.TempDir()
		m, err := Open(context.Background(), bytes.NewReader(data), ids, filepath.Join(parent, "x"), Limits{MaxTotalBytes: 1 << 20}, nil)
		entries, _ := os.ReadDir(parent)
		if err != nil && len(entries) != 0 {
			t.Fatalf("error %v left %v", err, entries)
		}
		if err == nil && (m == nil || len(entries) != 1) {
			t.Fatalf("success without a result: %v %v", m, entries)
		}
	})
}
