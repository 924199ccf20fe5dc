package deid

import (
	"bufio"
	"io"
	"os"
	"testing"
)

// BenchmarkRewrite de-identifies pydicom's files of several encodings; the
// copy case reads and writes the same bytes without de-identifying, the
// floor a plain send pays, measured in the same run.
func BenchmarkRewrite(b *testing.B) {
	needPydicomFiles(b)
	for _, name := range []string{"CT_small.dcm", "MR_small_bigendian.dcm", "image_dfl.dcm", "SC_rgb_rle_32bit_2frame.dcm", "rtplan.dcm"} {
		path := pydicomFiles + "/test_files/" + name
		fi, err := os.Stat(path)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(name+"/deid", func(b *testing.B) {
			s, _ := NewSession(Options{Dates: DatesShift})
			b.SetBytes(fi.Size())
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if _, err := s.Rewrite(path, io.Discard); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/copy", func(b *testing.B) {
			b.SetBytes(fi.Size())
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				f, err := os.Open(path)
				if err != nil {
					b.Fatal(err)
				}
				w := bufio.NewWriterSize(io.Discard, 256<<10)
				if _, err := io.Copy(w, f); err != nil {
					b.Fatal(err)
				}
				w.Flush()
				f.Close()
			}
		})
	}
}
