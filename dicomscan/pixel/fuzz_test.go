package pixel

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzDecode: hostile input never panics, and what is allocated for a
// frame is bounded by the cap.
func FuzzDecode(f *testing.F) {
	for _, name := range []string{"CT_small.dcm", "MR_small_RLE.dcm", "SC_rgb_jpeg_dcmtk.dcm", "SC_rgb_rle_2frame.dcm",
		"MR_small_bigendian.dcm", "image_dfl.dcm", "liver_1frame.dcm", "SC_ybr_full_422_uncompressed.dcm", "JPEG2000.dcm"} {
		if b, err := os.ReadFile(filepath.Join(pydicomFiles, "test_files", name)); err == nil {
			f.Add(b)
		}
	}
	f.Add(synth(2, 2, 1, 16, true, nil, make([]byte, 8)))
	f.Add(synth(2, 2, 3, 8, false, nil, make([]byte, 12)))
	f.Fuzz(func(t *testing.T, b []byte) {
		im, err := Decode(b)
		if err != nil {
			return
		}
		n := min(im.Frames(), 3)
		for i := 0; i < n; i++ {
			fr, err := im.Frame(i)
			if err != nil {
				continue
			}
			if len(fr.Values) > MaxFrameSamples || len(fr.Values) != fr.Rows*fr.Columns*fr.SamplesPerPixel {
				t.Fatalf("frame of %d values for %dx%dx%d", len(fr.Values), fr.Columns, fr.Rows, fr.SamplesPerPixel)
			}
			// What a frame allocates is bounded by the input: native data
			// at most 8 samples a byte (1 bit), deflate 1100-fold, RLE
			// 64-fold, JPEG 512 pixels (of 3 samples) a byte.
			if int64(len(fr.Values)) > 8*1100*int64(len(b))+(1<<20) {
				t.Fatalf("%d input bytes gave a frame of %d values", len(b), len(fr.Values))
			}
			fr.Render(fr.DefaultWindow())
		}
	})
}
