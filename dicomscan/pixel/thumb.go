package pixel

import (
	"fmt"
	"image"
)

// Thumbnail renders the middle frame of the file at path with its default
// window, scaled (box filter, aspect kept) to fit size x size pixels. The
// result is an *image.Gray or *image.RGBA, ready for image/png.
func Thumbnail(path string, size int) (image.Image, error) {
	if size < 1 {
		return nil, fmt.Errorf("thumbnail size %d", size)
	}
	im, err := Open(path)
	if err != nil {
		return nil, err
	}
	f, err := im.Frame(im.Frames() / 2)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return Scale(f.Render(f.DefaultWindow()), size), nil
}

// Scale shrinks img (an *image.Gray or *image.RGBA) to fit size x size,
// averaging the source pixels each target pixel covers. Smaller images are
// returned as they are.
func Scale(img image.Image, size int) image.Image {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if w <= size && h <= size || w == 0 || h == 0 {
		return img
	}
	tw, th := size, size
	if w >= h {
		th = max(1, h*size/w)
	} else {
		tw = max(1, w*size/h)
	}
	var src []uint8
	var stride, ch int
	switch m := img.(type) {
	case *image.Gray:
		src, stride, ch = m.Pix, m.Stride, 1
	case *image.RGBA:
		src, stride, ch = m.Pix, m.Stride, 4
	default:
		rgba := image.NewRGBA(b)
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				rgba.Set(x, y, img.At(b.Min.X+x, b.Min.Y+y))
			}
		}
		src, stride, ch = rgba.Pix, rgba.Stride, 4
	}
	var dst []uint8
	var dstride int
	var out image.Image
	if ch == 1 {
		g := image.NewGray(image.Rect(0, 0, tw, th))
		dst, dstride, out = g.Pix, g.Stride, g
	} else {
		r := image.NewRGBA(image.Rect(0, 0, tw, th))
		dst, dstride, out = r.Pix, r.Stride, r
	}
	sum := make([]int, ch)
	for ty := 0; ty < th; ty++ {
		y0, y1 := ty*h/th, max((ty+1)*h/th, ty*h/th+1)
		for tx := 0; tx < tw; tx++ {
			x0, x1 := tx*w/tw, max((tx+1)*w/tw, tx*w/tw+1)
			clear(sum)
			for y := y0; y < y1; y++ {
				row := src[y*stride:]
				for x := x0; x < x1; x++ {
					for c := 0; c < ch; c++ {
						sum[c] += int(row[x*ch+c])
					}
				}
			}
			n := (y1 - y0) * (x1 - x0)
			for c := 0; c < ch; c++ {
				dst[ty*dstride+tx*ch+c] = uint8((sum[c] + n/2) / n)
			}
		}
	}
	return out
}
