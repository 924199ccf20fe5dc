package pixel

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/bildbote/bildbote/internal/i18n"
)

// TestWindowLinear checks the linear VOI function of PS3.3 C.11.2.1.2.1
// at its edges and inside.
func TestWindowLinear(t *testing.T) {
	w := Window{Center: 40, Width: 400} // soft tissue: -160 .. 240
	for _, c := range []struct {
		x    float64
		want uint8
	}{
		{-1000, 0},
		{40 - 0.5 - 399.0/2, 0}, // x <= c-0.5-(w-1)/2 -> ymin
		{40 - 0.5 + 399.0/2 + 0.01, 255},
		{3000, 255},
		{39.5, 128},  // ((0)/(w-1)+0.5)*255 = 127.5 -> 128
		{-60.25, 64}, // ((-99.75)/399 + 0.5)*255 = 63.75
	} {
		if got := w.Apply(c.x); got != c.want {
			t.Errorf("Apply(%v) = %d, want %d", c.x, got, c.want)
		}
	}
	// Monotone over the window.
	prev := uint8(0)
	for x := -200.0; x < 300; x += 0.5 {
		v := w.Apply(x)
		if v < prev {
			t.Fatalf("not monotone at %v: %d after %d", x, v, prev)
		}
		prev = v
	}
	// Width 1: a threshold at the centre.
	th := Window{Center: 100, Width: 1}
	if th.Apply(99.5) != 0 || th.Apply(99.6) != 255 {
		t.Errorf("width 1: %d %d", th.Apply(99.5), th.Apply(99.6))
	}
	if Presets[0].Center != -600 || Presets[0].Width != 1500 || Presets[1].Center != 300 || Presets[2].Width != 400 {
		t.Errorf("presets %v", Presets)
	}
}

// synth builds an explicit VR little endian Part 10 file with the given
// 0028 attributes and native pixel data.
func synth(rows, cols, spp, bits int, signed bool, extra [][2]any, pix []byte) []byte {
	var b []byte
	b = append(b, make([]byte, 128)...)
	b = append(b, "DICM"...)
	el := func(g, e uint16, vr string, v []byte) {
		if len(v)%2 == 1 {
			v = append(v, ' ')
		}
		b = binary.LittleEndian.AppendUint16(b, g)
		b = binary.LittleEndian.AppendUint16(b, e)
		b = append(b, vr...)
		if vr == "OW" || vr == "OB" {
			b = append(b, 0, 0)
			b = binary.LittleEndian.AppendUint32(b, uint32(len(v)))
		} else {
			b = binary.LittleEndian.AppendUint16(b, uint16(len(v)))
		}
		b = append(b, v...)
	}
	us := func(v int) []byte { return binary.LittleEndian.AppendUint16(nil, uint16(v)) }
	el(0x0002, 0x0010, "UI", []byte(tsExplicitLE+"\x00"))
	el(0x0028, 0x0002, "US", us(spp))
	pi := "MONOCHROME2"
	if spp == 3 {
		pi = "RGB"
	}
	for _, x := range extra {
		if x[0] == "pi" {
			pi = x[1].(string)
		}
	}
	el(0x0028, 0x0004, "CS", []byte(pi))
	el(0x0028, 0x0010, "US", us(rows))
	el(0x0028, 0x0011, "US", us(cols))
	el(0x0028, 0x0100, "US", us(bits))
	el(0x0028, 0x0101, "US", us(bits))
	el(0x0028, 0x0102, "US", us(bits-1))
	sv := 0
	if signed {
		sv = 1
	}
	el(0x0028, 0x0103, "US", us(sv))
	for _, x := range extra {
		switch x[0] {
		case "slope":
			el(0x0028, 0x1053, "DS", []byte(x[1].(string)))
		case "intercept":
			el(0x0028, 0x1052, "DS", []byte(x[1].(string)))
		case "wc":
			el(0x0028, 0x1050, "DS", []byte(x[1].(string)))
		case "ww":
			el(0x0028, 0x1051, "DS", []byte(x[1].(string)))
		}
	}
	vr := "OW"
	if bits == 8 {
		vr = "OB"
	}
	el(0x7FE0, 0x0010, vr, pix)
	return b
}

// TestModalityAndWindow: a signed CT-like 2x2 image with a rescale
// intercept, the stored window, the presets and MONOCHROME1 inversion.
func TestModalityAndWindow(t *testing.T) {
	pix := make([]byte, 0, 8)
	for _, v := range []int16{0, 1024, -1000, 2000} {
		pix = binary.LittleEndian.AppendUint16(pix, uint16(v))
	}
	b := synth(2, 2, 1, 16, true, [][2]any{{"intercept", "-1024"}, {"slope", "1"}, {"wc", "40\\400"}, {"ww", "400\\1500"}}, pix)
	im, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	f, err := im.Frame(0)
	if err != nil {
		t.Fatal(err)
	}
	if want := []int64{0, 1024, -1000, 2000}; !equal(f.Values, want) {
		t.Fatalf("stored %v, want %v", f.Values, want)
	}
	if w := f.DefaultWindow(); w.Center != 40 || w.Width != 400 {
		t.Errorf("default window %+v, want the first stored 40/400", w)
	}
	// HU: -1024, 0, -2024, 976; soft tissue 40/400.
	img := f.Render(Presets[2])
	got := []uint8{}
	for y := 0; y < 2; y++ {
		for x := 0; x < 2; x++ {
			r, _, _, _ := img.At(x, y).RGBA()
			got = append(got, uint8(r>>8))
		}
	}
	if want := []uint8{0, Presets[2].Apply(0), 0, 255}; string(got) != string(want) {
		t.Errorf("soft tissue render %v, want %v", got, want)
	}
	// Without a stored window: min/max of the modality values.
	im.Window = nil
	if w := f.DefaultWindow(); w.Center != (-2024.0+976)/2 || w.Width != 976+2024+1 {
		t.Errorf("min/max window %+v", w)
	}
	// MONOCHROME1 inverts.
	f.Photometric = "MONOCHROME1"
	r, _, _, _ := f.Render(Presets[2]).At(3%2, 3/2).RGBA()
	if r>>8 != 0 {
		t.Errorf("MONOCHROME1 brightest value renders %d", r>>8)
	}
}

func equal(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestBounds: dimensions that do not fit the data, or exceed the cap,
// are refused before any allocation of the frame.
func TestBounds(t *testing.T) {
	// 60000x60000 RGB 16-bit declared, 8 bytes present.
	b := synth(60000, 60000, 3, 16, false, nil, make([]byte, 8))
	if _, err := Decode(b); !errors.Is(err, ErrMalformed) {
		t.Errorf("huge frame: %v", err)
	}
	// 100x100 declared, 10 bytes present.
	im, err := Decode(synth(100, 100, 1, 16, false, nil, make([]byte, 10)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := im.Frame(0); !errors.Is(err, ErrMalformed) {
		t.Errorf("short pixel data: %v", err)
	}
	if _, err := im.Frame(1); err == nil {
		t.Error("frame 1 of 1 decoded")
	}
}

// TestNoPreviewSyntax: a compressed syntax without a decoder gives a
// typed ErrNoPreview naming it.
func TestNoPreviewSyntax(t *testing.T) {
	p := filepath.Join(pydicomFiles, "test_files", "MR_small_jpeg_ls_lossless.dcm")
	if _, err := os.Stat(p); err != nil {
		needPydicom(t)
	}
	im, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	_, err = im.Frame(0)
	var np *NoPreviewError
	if !errors.Is(err, ErrNoPreview) || !errors.As(err, &np) || np.TransferSyntax != "1.2.840.10008.1.2.4.80" || np.Name != "JPEG-LS Lossless" {
		t.Fatalf("JPEG-LS: %v", err)
	}
}

// TestRenderLUTMatchesDirect: the lookup-table path gives what Apply
// gives pixel by pixel.
func TestRenderLUTMatchesDirect(t *testing.T) {
	vals := []int64{-2048, -1000, -1, 0, 1, 39, 40, 41, 240, 3071}
	pix := []byte{}
	for _, v := range vals {
		pix = binary.LittleEndian.AppendUint16(pix, uint16(int16(v)))
	}
	im, err := Decode(synth(2, 5, 1, 16, true, [][2]any{{"intercept", "-1024"}, {"slope", "1.5"}}, pix))
	if err != nil {
		t.Fatal(err)
	}
	f, err := im.Frame(0)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range append(Presets, f.DefaultWindow(), Window{Center: 0, Width: 0.5}) {
		img := f.Render(w)
		for i, v := range vals {
			want := w.Apply(float64(v)*1.5 - 1024)
			r, _, _, _ := img.At(i%5, i/5).RGBA()
			if uint8(r>>8) != want {
				t.Errorf("window %+v, value %d: %d, want %d", w, v, r>>8, want)
			}
		}
	}
}

func BenchmarkRender512(b *testing.B) {
	pix := make([]byte, 512*512*2)
	for i := 0; i < 512*512; i++ {
		binary.LittleEndian.PutUint16(pix[2*i:], uint16(i%4096))
	}
	im, err := Decode(synth(512, 512, 1, 16, false, [][2]any{{"intercept", "-1024"}}, pix))
	if err != nil {
		b.Fatal(err)
	}
	f, err := im.Frame(0)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		f.Render(Presets[i%3])
	}
}

// TestNoPreviewUserError: the tile text names the compression in both
// languages, with a hint, and keeps errors.Is.
func TestNoPreviewUserError(t *testing.T) {
	np := noPreview("1.2.840.10008.1.2.4.90", "").(*NoPreviewError)
	ue := np.User()
	if de := ue.Message(i18n.DE); de != "Keine Vorschau für diese Kompression (JPEG 2000 Lossless)." {
		t.Errorf("de: %q", de)
	}
	if en := ue.Message(i18n.EN); en != "No preview for this compression (JPEG 2000 Lossless)." {
		t.Errorf("en: %q", en)
	}
	if ue.Hint(i18n.DE) == "" || ue.Hint(i18n.EN) == "" || !errors.Is(ue, ErrNoPreview) {
		t.Errorf("hint or chain missing: %v", ue)
	}
	if i18n.T(i18n.DE, NotForDiagnosisKey) != "Schnellansicht – nicht für die Befundung" {
		t.Errorf("label: %q", i18n.T(i18n.DE, NotForDiagnosisKey))
	}
}
