package pixel

import (
	"bytes"
	"errors"
	"image"
	"image/png"
	"path/filepath"
	"testing"
)

// TestThumbnail: the middle frame of a multi-frame RLE file, a CT slice
// and a JPEG colour image become PNG-encodable thumbnails that keep the
// aspect; a JPEG 2000 file gives ErrNoPreview.
func TestThumbnail(t *testing.T) {
	needPydicom(t)
	dir := filepath.Join(pydicomFiles, "test_files")
	for _, c := range []struct {
		name string
		w, h int
		rgb  bool
	}{
		{"CT_small.dcm", 64, 64, false},
		{"SC_rgb_rle_2frame.dcm", 64, 64, true},
		{"SC_rgb_small_odd_jpeg.dcm", 3, 3, true}, // smaller than the box: unchanged
		{"rtdose.dcm", 10, 10, false},             // 10x10, 15 frames: the middle one
	} {
		img, err := Thumbnail(filepath.Join(dir, c.name), 64)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		b := img.Bounds()
		if b.Dx() != c.w || b.Dy() != c.h {
			t.Errorf("%s: thumbnail %v", c.name, b)
		}
		if _, isRGB := img.(*image.RGBA); isRGB != c.rgb {
			t.Errorf("%s: %T", c.name, img)
		}
		var buf bytes.Buffer
		if err := png.Encode(&buf, img); err != nil {
			t.Errorf("%s: png: %v", c.name, err)
		}
		// Not blank: a real image has more than one grey level.
		seen := map[uint32]bool{}
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				r, g, bl, _ := img.At(x, y).RGBA()
				seen[r<<16^g<<8^bl] = true
			}
		}
		if len(seen) < 2 {
			t.Errorf("%s: thumbnail of one colour", c.name)
		}
	}
	if _, err := Thumbnail(filepath.Join(dir, "JPEG2000.dcm"), 64); !errors.Is(err, ErrNoPreview) {
		t.Errorf("JPEG 2000 thumbnail: %v", err)
	}
}

// TestScaleAverages: a 4x2 grey image halves to 2x1 with the block means.
func TestScaleAverages(t *testing.T) {
	g := image.NewGray(image.Rect(0, 0, 4, 2))
	copy(g.Pix, []uint8{0, 100, 200, 255, 0, 100, 200, 255})
	s := Scale(g, 2).(*image.Gray)
	if s.Bounds().Dx() != 2 || s.Bounds().Dy() != 1 || s.Pix[0] != 50 || s.Pix[1] != 228 {
		t.Errorf("scaled %v %v", s.Bounds(), s.Pix)
	}
}
