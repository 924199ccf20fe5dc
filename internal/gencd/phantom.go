package gencd

import (
	"encoding/binary"
	"math"
	"sync"
)

// tissue names a material of the phantom; each series maps tissues to
// pixel values (HU for CT, signal for MR).
type tissue int

const (
	air tissue = iota
	fat
	muscle
	lung
	blood
	bone
	csf
	liver
	spleen
	kidney
	gray
	white
	scalp
)

// ctHU is the CT number of each tissue without and with venous contrast.
var ctHU = map[tissue][2]float64{
	air:    {-1000, -1000},
	fat:    {-100, -100},
	muscle: {45, 60},
	lung:   {-860, -850},
	blood:  {40, 170},
	bone:   {650, 650},
	csf:    {12, 15},
	liver:  {58, 115},
	spleen: {48, 125},
	kidney: {32, 190},
}

// blob is an ellipsoid of one tissue with a slight linear gradient, the
// building block of both phantoms. Painted in order: later blobs cover
// earlier ones.
type blob struct {
	t      tissue
	center [3]float64 // patient coordinates (LPS), mm
	radius [3]float64 // semi-axes, mm
	grad   [3]float64 // value change per mm from the center
}

// torso is a crude chest/abdomen: fat and muscle walls, lungs, heart,
// aorta, liver, spleen, kidneys, spine.
var torso = []blob{
	{t: fat, center: [3]float64{0, 0, -500}, radius: [3]float64{175, 120, 1200}, grad: [3]float64{0, 0.04, 0}},
	{t: muscle, center: [3]float64{0, 2, -500}, radius: [3]float64{158, 104, 1200}, grad: [3]float64{0.03, 0.06, 0}},
	{t: lung, center: [3]float64{-82, -5, -220}, radius: [3]float64{66, 82, 140}, grad: [3]float64{0, 0.5, 0}},
	{t: lung, center: [3]float64{82, -5, -215}, radius: [3]float64{64, 80, 145}, grad: [3]float64{0, 0.5, 0}},
	{t: blood, center: [3]float64{18, -38, -270}, radius: [3]float64{56, 50, 60}, grad: [3]float64{0.05, 0, 0}},
	{t: liver, center: [3]float64{-62, -5, -420}, radius: [3]float64{92, 76, 95}, grad: [3]float64{0.04, 0.03, 0}},
	{t: spleen, center: [3]float64{88, 30, -410}, radius: [3]float64{34, 46, 60}},
	{t: kidney, center: [3]float64{-72, 55, -505}, radius: [3]float64{28, 32, 55}},
	{t: kidney, center: [3]float64{72, 55, -495}, radius: [3]float64{28, 32, 55}},
	{t: blood, center: [3]float64{-8, 42, -500}, radius: [3]float64{13, 13, 420}},
	{t: bone, center: [3]float64{0, 76, -500}, radius: [3]float64{20, 18, 1200}, grad: [3]float64{0, 2, 0}},
	{t: csf, center: [3]float64{0, 90, -500}, radius: [3]float64{7, 7, 1200}},
}

// head is a crude skull with scalp, CSF, gray and white matter,
// ventricles and eyes.
var head = []blob{
	{t: scalp, center: [3]float64{0, 0, 20}, radius: [3]float64{80, 100, 115}},
	{t: bone, center: [3]float64{0, 0, 20}, radius: [3]float64{75, 95, 110}},
	{t: csf, center: [3]float64{0, 0, 20}, radius: [3]float64{70, 90, 105}},
	{t: gray, center: [3]float64{0, 0, 20}, radius: [3]float64{68, 88, 102}, grad: [3]float64{0.8, 1.2, 0.6}},
	{t: white, center: [3]float64{0, 2, 28}, radius: [3]float64{56, 74, 86}, grad: [3]float64{0.8, 1.2, 0.6}},
	{t: csf, center: [3]float64{-11, -4, 38}, radius: [3]float64{7, 30, 16}},
	{t: csf, center: [3]float64{11, -4, 38}, radius: [3]float64{7, 30, 16}},
	{t: csf, center: [3]float64{-32, -88, -25}, radius: [3]float64{12, 12, 12}},
	{t: csf, center: [3]float64{32, -88, -25}, radius: [3]float64{12, 12, 12}},
}

// geometry places one image in patient space.
type geometry struct {
	rows, cols int
	spacing    float64    // mm per pixel, rows and columns alike
	origin     [3]float64 // centre of the first pixel (Image Position)
	rowDir     [3]float64 // direction of increasing column index
	colDir     [3]float64 // direction of increasing row index
}

// painter renders one image: value per tissue, offset from value to stored
// pixel, noise level, and how to treat noise in air (MR magnitude images
// are never negative).
type painter struct {
	blobs      []blob
	value      map[tissue]float64
	background float64
	offset     float64 // stored = value + offset (CT: -RescaleIntercept)
	noise      float64 // standard deviation
	magnitude  bool    // MR: background noise is folded to positive values
	bgSigma    float64 // noise standard deviation where nothing was painted
	maxStored  int32
	// fovCircle sets pixels outside the reconstruction circle (the disc
	// inscribed in the image) to stored 0, as CT scanners do.
	fovCircle bool

	once        sync.Once
	tissueNoise [1 << noiseBits]int32
	bgNoise     [1 << noiseBits]int32
}

// fixedShift is the fractional precision of the row accumulator.
const fixedShift = 8

// paint writes rows*cols little-endian uint16 pixels into dst.
// rowBuf is scratch space of at least cols int32 values.
func (p *painter) paint(dst []byte, g geometry, rng *xorshift, rowBuf []int32) {
	p.once.Do(p.makeNoiseTables)
	bg := int32(math.Round((p.background + p.offset) * (1 << fixedShift)))
	row := rowBuf[:g.cols]
	for r := 0; r < g.rows; r++ {
		for c := range row {
			row[c] = bg
		}
		lo, hi := 0, g.cols
		if p.fovCircle {
			lo, hi = circleChord(r, g)
		}
		var a [3]float64 // centre of pixel (r, 0)
		for i := range a {
			a[i] = g.origin[i] + float64(r)*g.spacing*g.colDir[i]
		}
		for bi := range p.blobs {
			p.paintSpan(row, &p.blobs[bi], a, g)
		}
		out := dst[2*r*g.cols : 2*(r+1)*g.cols]
		clear(out[:2*lo])
		clear(out[2*hi:])
		p.finishRow(out[2*lo:2*hi], row[lo:hi], rng, bg)
	}
}

// noiseBits is log2 of the noise table size.
const noiseBits = 12

// makeNoiseTables fills the tables with Gaussian quantiles in fixed point,
// so a pixel's noise is one table lookup with 12 random bits.
func (p *painter) makeNoiseTables() {
	const n = 1 << noiseBits
	for i := 0; i < n; i++ {
		z := math.Sqrt2 * math.Erfinv(2*(float64(i)+0.5)/n-1)
		p.tissueNoise[i] = int32(math.Round(z * p.noise * (1 << fixedShift)))
		bgz := z
		if p.magnitude {
			bgz = math.Abs(z)
		}
		p.bgNoise[i] = int32(math.Round(bgz * p.bgSigma * (1 << fixedShift)))
	}
}

// circleChord is the column range [lo, hi) of row r inside the disc
// inscribed in the image.
func circleChord(r int, g geometry) (lo, hi int) {
	radius := float64(g.cols) / 2
	dy := float64(r) + 0.5 - float64(g.rows)/2
	if math.Abs(dy) >= radius {
		return 0, 0
	}
	half := math.Sqrt(radius*radius - dy*dy)
	lo = max(0, int(math.Ceil(radius-half)))
	hi = min(g.cols, int(math.Floor(radius+half)))
	return lo, max(lo, hi)
}

// paintSpan fills the part of the row inside blob b (a quadratic in the
// column index) with the blob's value plus its gradient.
func (p *painter) paintSpan(row []int32, b *blob, a [3]float64, g geometry) {
	var qa, qb, qc float64
	for i := 0; i < 3; i++ {
		d := (a[i] - b.center[i]) / b.radius[i]
		s := g.spacing * g.rowDir[i] / b.radius[i]
		qa += s * s
		qb += 2 * d * s
		qc += d * d
	}
	qc--
	disc := qb*qb - 4*qa*qc
	if qa == 0 || disc < 0 {
		return
	}
	sq := math.Sqrt(disc)
	c0 := int(math.Ceil((-qb - sq) / (2 * qa)))
	c1 := int(math.Floor((-qb + sq) / (2 * qa)))
	c0 = max(c0, 0)
	c1 = min(c1, len(row)-1)
	if c0 > c1 {
		return
	}
	var start, step float64
	start = p.value[b.t] + p.offset
	for i := 0; i < 3; i++ {
		start += b.grad[i] * (a[i] + float64(c0)*g.spacing*g.rowDir[i] - b.center[i])
		step += b.grad[i] * g.spacing * g.rowDir[i]
	}
	v := int32(math.Round(start * (1 << fixedShift)))
	dv := int32(math.Round(step * (1 << fixedShift)))
	for c := c0; c <= c1; c++ {
		row[c] = v
		v += dv
	}
}

// finishRow adds noise, clamps to the stored range and encodes. Pixels
// still at the background value get the background noise.
func (p *painter) finishRow(out []byte, row []int32, rng *xorshift, bg int32) {
	const mask = 1<<noiseBits - 1
	maxV := p.maxStored
	var x uint64
	left := 0
	for c, v := range row {
		if left == 0 {
			x, left = rng.next(), 64/noiseBits
		}
		i := x & mask
		x >>= noiseBits
		left--
		n := p.tissueNoise[i]
		if v == bg {
			n = p.bgNoise[i]
		}
		px := (v + n + 1<<(fixedShift-1)) >> fixedShift
		px = min(max(px, 0), maxV)
		binary.LittleEndian.PutUint16(out[2*c:], uint16(px))
	}
}

// xorshift is xorshift64*: fast, deterministic, good enough for noise.
type xorshift struct{ s uint64 }

func newXorshift(seed uint64) *xorshift {
	if seed == 0 {
		seed = 0x9E3779B97F4A7C15
	}
	return &xorshift{seed}
}

func (x *xorshift) next() uint64 {
	x.s ^= x.s >> 12
	x.s ^= x.s << 25
	x.s ^= x.s >> 27
	return x.s * 2685821657736338717
}
