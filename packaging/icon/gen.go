//go:build ignore

// Command gen draws the Bildbote application icon (packaging/icon.png):
// a radiograph sheet on a blue tile with an orange "send" badge. Shapes are
// signed distance functions sampled 4x4 per pixel, so edges are smooth and
// the output is byte-for-byte reproducible.
//
//	go run packaging/icon/gen.go -out packaging/icon.png [-size 512] [-ico bildbote.ico]
//
// The shapes are drawn in a 512x512 design space and scaled, so smaller
// sizes (hicolor 48..256) are rendered, not downsampled.
package main

import (
	"bytes"
	"encoding/binary"
	"flag"
	"image"
	"image/color"
	"image/png"
	"log"
	"math"
	"os"
)

const size = 512 // design space

type rgba struct{ r, g, b, a float64 }

func hex(v uint32) rgba {
	return rgba{float64(v>>16&0xff) / 255, float64(v>>8&0xff) / 255, float64(v&0xff) / 255, 1}
}

// over composites src (with coverage cov) over dst, straight alpha.
func over(dst, src rgba, cov float64) rgba {
	a := src.a * cov
	outA := a + dst.a*(1-a)
	if outA == 0 {
		return rgba{}
	}
	mix := func(s, d float64) float64 { return (s*a + d*dst.a*(1-a)) / outA }
	return rgba{mix(src.r, dst.r), mix(src.g, dst.g), mix(src.b, dst.b), outA}
}

func lerp(a, b rgba, t float64) rgba {
	return rgba{a.r + (b.r-a.r)*t, a.g + (b.g-a.g)*t, a.b + (b.b-a.b)*t, a.a + (b.a-a.a)*t}
}

// Signed distances: negative inside.
func roundedBox(x, y, cx, cy, hw, hh, r float64) float64 {
	qx := math.Abs(x-cx) - hw + r
	qy := math.Abs(y-cy) - hh + r
	out := math.Hypot(math.Max(qx, 0), math.Max(qy, 0))
	return out + math.Min(math.Max(qx, qy), 0) - r
}

func circle(x, y, cx, cy, r float64) float64 { return math.Hypot(x-cx, y-cy) - r }

// capsule is a line segment from (ax,ay) to (bx,by) with half-thickness r.
func capsule(x, y, ax, ay, bx, by, r float64) float64 {
	px, py := x-ax, y-ay
	dx, dy := bx-ax, by-ay
	h := math.Max(0, math.Min(1, (px*dx+py*dy)/(dx*dx+dy*dy)))
	return math.Hypot(px-dx*h, py-dy*h) - r
}

// arc is a ring of radius r and half-thickness t around (cx,cy), limited to
// the angles within half of the downward-opening span, like a rib.
func arc(x, y, cx, cy, r, t, halfSpan float64) float64 {
	ang := math.Atan2(x-cx, -(y - cy)) // 0 = straight up
	if math.Abs(ang) > halfSpan {
		// distance to the nearer end point
		s := math.Copysign(halfSpan, ang)
		ex, ey := cx+r*math.Sin(s), cy-r*math.Cos(s)
		return math.Hypot(x-ex, y-ey) - t
	}
	return math.Abs(math.Hypot(x-cx, y-cy)-r) - t
}

// rotate turns (x,y) by -deg around (cx,cy): drawing in the rotated frame
// tilts the shape by +deg.
func rotate(x, y, cx, cy, deg float64) (float64, float64) {
	s, c := math.Sincos(-deg * math.Pi / 180)
	dx, dy := x-cx, y-cy
	return cx + dx*c - dy*s, cy + dx*s + dy*c
}

func shade(x, y float64) rgba {
	var px rgba
	cover := func(d float64) bool { return d <= 0 }

	// Tile: blue gradient, top-left lighter.
	if cover(roundedBox(x, y, 256, 256, 232, 232, 100)) {
		t := (x + y) / (2 * size)
		px = over(px, lerp(hex(0x2F86EB), hex(0x0B3A8C), t), 1)
	}

	// Radiograph sheet, slightly tilted.
	fx, fy := rotate(x, y, 226, 238, -8)
	if cover(roundedBox(fx, fy, 226, 238, 124, 152, 26)) {
		px = over(px, hex(0xF4F7FB), 1)
	}
	if cover(roundedBox(fx, fy, 226, 238, 104, 132, 14)) {
		px = over(px, hex(0x14233A), 1)
		ribs := hex(0xC9D8EA)
		if cover(capsule(fx, fy, 226, 150, 226, 336, 9)) { // spine
			px = over(px, ribs, 1)
		}
		for i := 0; i < 4; i++ { // ribs: parallel arcs down the spine
			cy := 250 + float64(i)*38
			if cover(arc(fx, fy, 226, cy, 74, 7, 1.25)) {
				px = over(px, ribs, 1)
			}
		}
	}

	// Send badge: orange disc with a white ring and an arrow.
	if cover(circle(x, y, 372, 372, 98)) {
		px = over(px, hex(0xFFFFFF), 1)
	}
	if cover(circle(x, y, 372, 372, 84)) {
		px = over(px, lerp(hex(0xFFA62B), hex(0xF26B1D), (y-288)/168), 1)
		w := hex(0xFFFFFF)
		if cover(capsule(x, y, 326, 372, 412, 372, 12)) ||
			cover(capsule(x, y, 378, 336, 414, 372, 12)) ||
			cover(capsule(x, y, 378, 408, 414, 372, 12)) {
			px = over(px, w, 1)
		}
	}
	return px
}

// render draws the icon at px x px.
func render(px int) *image.NRGBA {
	const ss = 4 // samples per axis
	scale := float64(size) / float64(px)
	img := image.NewNRGBA(image.Rect(0, 0, px, px))
	for y := 0; y < px; y++ {
		for x := 0; x < px; x++ {
			var sum rgba
			for sy := 0; sy < ss; sy++ {
				for sx := 0; sx < ss; sx++ {
					c := shade((float64(x)+(float64(sx)+0.5)/ss)*scale, (float64(y)+(float64(sy)+0.5)/ss)*scale)
					// premultiply for averaging
					sum.r += c.r * c.a
					sum.g += c.g * c.a
					sum.b += c.b * c.a
					sum.a += c.a
				}
			}
			n := float64(ss * ss)
			a := sum.a / n
			var c color.NRGBA
			if a > 0 {
				c = color.NRGBA{
					R: uint8(math.Round(sum.r / sum.a * 255)),
					G: uint8(math.Round(sum.g / sum.a * 255)),
					B: uint8(math.Round(sum.b / sum.a * 255)),
					A: uint8(math.Round(a * 255)),
				}
			}
			img.SetNRGBA(x, y, c)
		}
	}
	return img
}

func encodePNG(img image.Image) []byte {
	var buf bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestCompression}
	if err := enc.Encode(&buf, img); err != nil {
		log.Fatal(err)
	}
	return buf.Bytes()
}

// encodeICO packs PNG-compressed images into a Windows .ico (Vista and
// later read PNG entries at every size).
func encodeICO(sizes []int) []byte {
	var dir, data bytes.Buffer
	le := binary.LittleEndian
	binary.Write(&dir, le, [3]uint16{0, 1, uint16(len(sizes))}) // reserved, type icon, count
	offset := 6 + 16*len(sizes)
	for _, px := range sizes {
		img := encodePNG(render(px))
		dim := uint8(px) // 256 is written as 0
		binary.Write(&dir, le, struct {
			W, H, Colors, Reserved uint8
			Planes, BitCount       uint16
			Bytes, Offset          uint32
		}{dim, dim, 0, 0, 1, 32, uint32(len(img)), uint32(offset + data.Len())})
		data.Write(img)
	}
	return append(dir.Bytes(), data.Bytes()...)
}

func main() {
	out := flag.String("out", "packaging/icon.png", "output PNG")
	px := flag.Int("size", size, "width and height in pixels")
	ico := flag.String("ico", "", "also write a Windows .ico (16-256 px) to this path")
	flag.Parse()

	write := func(path string, data []byte) {
		if err := os.WriteFile(path, data, 0o644); err != nil {
			log.Fatal(err)
		}
	}
	write(*out, encodePNG(render(*px)))
	if *ico != "" {
		write(*ico, encodeICO([]int{16, 24, 32, 48, 64, 256}))
	}
}
