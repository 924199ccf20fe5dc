package deid

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"runtime"
	"testing"
	"time"
)

// FuzzRewrite feeds hostile bytes to the engine: it must return an error
// or a file, never panic, and allocate in proportion to its input (a
// deflated data set may inflate to maxInflateRatio times its size).
func FuzzRewrite(f *testing.F) {
	for _, name := range []string{"CT_small.dcm", "MR_small_bigendian.dcm", "image_dfl.dcm", "rtplan.dcm", "UN_sequence.dcm", "JPEG2000.dcm", "no_meta_group_length.dcm", "nested_priv_SQ.dcm"} {
		if only := os.Getenv("DEID_FUZZ_SEED"); only != "" && only != name {
			continue
		}
		if b, err := os.ReadFile(pydicomFiles + "/test_files/" + name); err == nil && len(b) < 64<<10 {
			f.Add(b)
		}
	}
	f.Add([]byte("DICM"))
	f.Add(append(make([]byte, 128), "DICM\x02\x00\x10\x00UI\x16\x001.2.840.10008.1.2.1.99"...))
	s, err := NewSession(Options{Dates: DatesShift, CleanDescriptors: true, KeepSafePrivate: true})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		// A slow input is a bug too (a send rewrites thousands of files):
		// crash the worker so that the fuzzer keeps the input.
		slow := time.AfterFunc(10*time.Second, func() { panic(fmt.Sprintf("Rewrite of %d bytes takes over 10 s", len(b))) })
		defer slow.Stop()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		var out bytes.Buffer
		_, err := s.RewriteBytes(b, &out)
		runtime.ReadMemStats(&after)
		if err != nil && !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrDICOMDIR) && !errors.Is(err, ErrPseudonym) {
			t.Fatalf("unexpected error kind: %v", err)
		}
		limit := uint64(len(b))*maxInflateRatio*4 + 16<<20
		if got := after.TotalAlloc - before.TotalAlloc; got > limit {
			t.Fatalf("%d bytes of input allocated %d bytes", len(b), got)
		}
		if err == nil {
			// What the engine wrote, it reads back.
			if _, err := parseFile(out.Bytes()); err != nil {
				t.Fatalf("output does not parse: %v", err)
			}
		}
	})
}
