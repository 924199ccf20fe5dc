package pixel

import (
	"image"
	"math"
)

// Window is a VOI window in modality units (after Rescale Slope and
// Intercept): for CT, Hounsfield units.
type Window struct {
	Name          string // preset name, empty for a stored or computed window
	Center, Width float64
}

// Presets are the CT windows of the quick look.
var Presets = []Window{
	{Name: "lung", Center: -600, Width: 1500},
	{Name: "bone", Center: 300, Width: 1500},
	{Name: "soft tissue", Center: 40, Width: 400},
}

// Modality applies the modality LUT (Rescale Slope/Intercept) to a stored
// value.
func (f *Frame) Modality(v int64) float64 {
	if f.im == nil {
		return float64(v)
	}
	return float64(v)*f.im.RescaleSlope + f.im.RescaleIntercept
}

// DefaultWindow is the first stored Window Center/Width, else the range
// of the frame's modality values.
func (f *Frame) DefaultWindow() Window {
	if f.im != nil && f.im.Window != nil && f.Photometric != "RGB" {
		return *f.im.Window
	}
	if len(f.Values) == 0 {
		return Window{Center: 127.5, Width: 256}
	}
	lo, hi := f.valueRange()
	a, b := f.Modality(lo), f.Modality(hi)
	if a > b {
		a, b = b, a
	}
	return Window{Center: (a + b) / 2, Width: b - a + 1}
}

// valueRange returns the smallest and largest stored value (computed once).
func (f *Frame) valueRange() (lo, hi int64) {
	if f.ranged || len(f.Values) == 0 {
		return f.lo, f.hi
	}
	lo, hi = f.Values[0], f.Values[0]
	for _, v := range f.Values {
		lo, hi = min(lo, v), max(hi, v)
	}
	f.lo, f.hi, f.ranged = lo, hi, true
	return lo, hi
}

// Apply maps x through the linear VOI function of PS3.3 C.11.2.1.2.1 to
// 0..255.
func (w Window) Apply(x float64) uint8 {
	c, wd := w.Center, w.Width
	if wd < 1 {
		wd = 1
	}
	switch {
	case x <= c-0.5-(wd-1)/2:
		return 0
	case x > c-0.5+(wd-1)/2:
		return 255
	}
	y := ((x-(c-0.5))/(wd-1) + 0.5) * 255
	if wd == 1 {
		y = 255
	}
	return uint8(math.Max(0, math.Min(255, math.Round(y))))
}

// Render returns the frame for display: an 8-bit *image.Gray for
// monochrome (windowed; MONOCHROME1 inverted), an *image.RGBA for colour
// (scaled from Bits Stored to 8 bits, YBR_FULL converted to RGB; the
// window is not applied to colour).
func (f *Frame) Render(w Window) image.Image {
	r := image.Rect(0, 0, f.Columns, f.Rows)
	px := f.Rows * f.Columns
	if f.SamplesPerPixel == 1 {
		g := image.NewGray(r)
		inv := f.Photometric == "MONOCHROME1"
		px = min(px, len(f.Values))
		lo, hi := f.valueRange()
		if hi-lo < 1<<20 {
			// One lookup table over the stored range: a drag of the
			// window re-renders a 512x512 slice in about a millisecond.
			lut := make([]uint8, hi-lo+1)
			for i := range lut {
				v := w.Apply(f.Modality(lo + int64(i)))
				if inv {
					v = 255 - v
				}
				lut[i] = v
			}
			for y := 0; y < f.Rows && y*f.Columns < px; y++ {
				row := f.Values[y*f.Columns : min(px, (y+1)*f.Columns)]
				dst := g.Pix[y*g.Stride:]
				for x, v := range row {
					dst[x] = lut[v-lo]
				}
			}
			return g
		}
		for p := 0; p < px; p++ {
			v := w.Apply(f.Modality(f.Values[p]))
			if inv {
				v = 255 - v
			}
			g.Pix[(p/f.Columns)*g.Stride+p%f.Columns] = v
		}
		return g
	}
	img := image.NewRGBA(r)
	shift := uint(0)
	if f.BitsStored > 8 {
		shift = uint(f.BitsStored - 8)
	}
	for p := 0; p < px && 3*p+2 < len(f.Values); p++ {
		a, b, c := f.Values[3*p]>>shift, f.Values[3*p+1]>>shift, f.Values[3*p+2]>>shift
		if f.Photometric == "YBR_FULL" || f.Photometric == "YBR_FULL_422" {
			a, b, c = ybrToRGB(a, b, c)
		}
		o := (p/f.Columns)*img.Stride + (p%f.Columns)*4
		img.Pix[o], img.Pix[o+1], img.Pix[o+2], img.Pix[o+3] = clamp8(a), clamp8(b), clamp8(c), 255
	}
	return img
}

// ybrToRGB converts full-range YCbCr (PS3.3 C.7.6.3.1.2) to RGB.
func ybrToRGB(y, cb, cr int64) (int64, int64, int64) {
	fy, fb, fr := float64(y), float64(cb)-128, float64(cr)-128
	return int64(math.Round(fy + 1.402*fr)),
		int64(math.Round(fy - 0.344136*fb - 0.714136*fr)),
		int64(math.Round(fy + 1.772*fb))
}

func clamp8(v int64) uint8 {
	return uint8(min(255, max(0, v)))
}
