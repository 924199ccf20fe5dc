package pixel

import "image"

// adobeTransform returns the colour transform of a well-formed Adobe APP14
// segment before the first scan, and whether there is one.
func adobeTransform(b []byte) (int, bool) {
	i := 2 // after SOI
	for i+4 <= len(b) {
		if b[i] != 0xFF {
			return 0, false
		}
		m := b[i+1]
		if m == 0xFF { // fill byte
			i++
			continue
		}
		if m == 0xDA || m == 0xD9 { // start of scan, end of image
			return 0, false
		}
		n := int(b[i+2])<<8 | int(b[i+3])
		if n < 2 || i+2+n > len(b) {
			return 0, false
		}
		seg := b[i+4 : i+2+n]
		if m == 0xEE && len(seg) >= 12 && string(seg[:5]) == "Adobe" {
			return int(seg[11]), true
		}
		i += 2 + n
	}
	return 0, false
}

// upsampleChroma returns Cb and Cr at full resolution (w*h each). 4:2:2
// and 4:2:0 use libjpeg's "fancy" triangular upsampling (what Pillow and
// most viewers show); other ratios replicate.
func upsampleChroma(m *image.YCbCr, w, h int) (cb, cr []uint8) {
	cb, cr = make([]uint8, w*h), make([]uint8, w*h)
	cw := (w + 1) / 2
	switch m.SubsampleRatio {
	case image.YCbCrSubsampleRatio422:
		for _, p := range [][2][]uint8{{m.Cb, cb}, {m.Cr, cr}} {
			src, dst := p[0], p[1]
			row := make([]uint8, 2*cw)
			for y := 0; y < h; y++ {
				h2v1(src[y*m.CStride:y*m.CStride+cw], row)
				copy(dst[y*w:(y+1)*w], row)
			}
		}
		return cb, cr
	case image.YCbCrSubsampleRatio420:
		ch := (h + 1) / 2
		for _, p := range [][2][]uint8{{m.Cb, cb}, {m.Cr, cr}} {
			src, dst := p[0], p[1]
			row := make([]uint8, 2*cw)
			for y := 0; y < h; y++ {
				cy := y / 2
				other := cy - 1 // the upper output row of a pair looks up
				if y%2 == 1 {
					other = cy + 1
				}
				other = min(max(other, 0), ch-1)
				h2v2(src[cy*m.CStride:cy*m.CStride+cw], src[other*m.CStride:other*m.CStride+cw], row)
				copy(dst[y*w:(y+1)*w], row)
			}
		}
		return cb, cr
	}
	b := m.Bounds()
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			o := m.COffset(b.Min.X+x, b.Min.Y+y)
			cb[y*w+x], cr[y*w+x] = m.Cb[o], m.Cr[o]
		}
	}
	return cb, cr
}

// h2v1 is libjpeg's h2v1_fancy_upsample: out has 2*len(in) samples.
func h2v1(in, out []uint8) {
	n := len(in)
	if n == 1 {
		out[0], out[1] = in[0], in[0]
		return
	}
	out[0] = in[0]
	out[1] = uint8((int(in[0])*3 + int(in[1]) + 2) >> 2)
	for i := 1; i < n-1; i++ {
		v := int(in[i]) * 3
		out[2*i] = uint8((v + int(in[i-1]) + 1) >> 2)
		out[2*i+1] = uint8((v + int(in[i+1]) + 2) >> 2)
	}
	out[2*n-2] = uint8((int(in[n-1])*3 + int(in[n-2]) + 1) >> 2)
	out[2*n-1] = in[n-1]
}

// h2v2 is one output row of libjpeg's h2v2_fancy_upsample: near is the
// chroma row of this output row, far the neighbouring one.
func h2v2(near, far, out []uint8) {
	n := len(near)
	sum := func(i int) int { return int(near[i])*3 + int(far[i]) }
	if n == 1 {
		v := uint8((sum(0)*4 + 8) >> 4)
		out[0], out[1] = v, v
		return
	}
	this, next := sum(0), sum(1)
	out[0] = uint8((this*4 + 8) >> 4)
	out[1] = uint8((this*3 + next + 7) >> 4)
	last := this
	for i := 1; i < n-1; i++ {
		this, next = next, sum(i+1)
		out[2*i] = uint8((this*3 + last + 8) >> 4)
		out[2*i+1] = uint8((this*3 + next + 7) >> 4)
		last = this
	}
	this = next
	out[2*n-2] = uint8((this*3 + last + 8) >> 4)
	out[2*n-1] = uint8((this*4 + 7) >> 4)
}
