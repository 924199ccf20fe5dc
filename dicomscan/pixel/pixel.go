// Package pixel decodes DICOM pixel data for a quick look ("nicht für
// die Befundung"): native (uncompressed) data of every byte order, RLE
// Lossless and JPEG baseline, frame by frame, with the modality LUT and a
// linear VOI window (PS3.3 C.11.2.1.2). Compressions without a pure-Go
// decoder (JPEG-LS, JPEG lossless, JPEG 2000, ...) give ErrNoPreview.
// It builds with CGO_ENABLED=0 and reads the file with its own small
// parser, bounded against hostile input.
package pixel

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"os"

	"github.com/bildbote/bildbote/internal/i18n"
)

// ErrNoPreview is matched (errors.Is) by a *NoPreviewError: the file's
// pixel data is in an encoding this package does not decode.
var ErrNoPreview = errors.New("no preview for this encoding")

// NoPreviewError names the transfer syntax (or other property) that has
// no decoder here.
type NoPreviewError struct {
	TransferSyntax string // UID
	Name           string // human-readable name of the transfer syntax
	Reason         string // why, when not the transfer syntax itself
}

func (e *NoPreviewError) Error() string {
	s := "no preview for " + e.Name + " (" + e.TransferSyntax + ")"
	if e.Reason != "" {
		s += ": " + e.Reason
	}
	return s
}

// Is makes errors.Is(err, ErrNoPreview) true.
func (e *NoPreviewError) Is(target error) bool { return target == ErrNoPreview }

// User returns the error for a person ("no preview for this
// compression", with a hint), in German and English.
func (e *NoPreviewError) User() *i18n.UserError {
	return i18n.NewError(i18n.KindRefused, "pixel.no-preview", e.Name).WithHint("pixel.no-preview.hint").Wrap(e)
}

// NotForDiagnosisKey is the catalog key of the label every quick look
// carries ("Schnellansicht – nicht für die Befundung").
const NotForDiagnosisKey = "pixel.not-for-diagnosis"

var tsNames = map[string]string{
	tsImplicitLE:              "Implicit VR Little Endian",
	tsExplicitLE:              "Explicit VR Little Endian",
	tsDeflated:                "Deflated Explicit VR Little Endian",
	tsExplicitBE:              "Explicit VR Big Endian",
	tsJPEGBase:                "JPEG Baseline (Process 1)",
	tsJPEGExt:                 "JPEG Extended (Process 2 & 4)",
	"1.2.840.10008.1.2.4.57":  "JPEG Lossless (Process 14)",
	"1.2.840.10008.1.2.4.70":  "JPEG Lossless SV1",
	"1.2.840.10008.1.2.4.80":  "JPEG-LS Lossless",
	"1.2.840.10008.1.2.4.81":  "JPEG-LS Near-Lossless",
	"1.2.840.10008.1.2.4.90":  "JPEG 2000 Lossless",
	"1.2.840.10008.1.2.4.91":  "JPEG 2000",
	"1.2.840.10008.1.2.4.201": "HTJ2K Lossless",
	"1.2.840.10008.1.2.4.202": "HTJ2K Lossless RPCL",
	"1.2.840.10008.1.2.4.203": "HTJ2K",
	"1.2.840.10008.1.2.4.100": "MPEG2",
	"1.2.840.10008.1.2.4.102": "MPEG-4 AVC/H.264",
	"1.2.840.10008.1.2.4.110": "MPEG-4 AVC/H.264 (ISO)",
	"1.2.840.10008.1.2.5":     "RLE Lossless",
}

// TransferSyntaxName returns a readable name of a transfer syntax UID.
func TransferSyntaxName(uid string) string {
	if n, ok := tsNames[uid]; ok {
		return n
	}
	return "unknown transfer syntax"
}

func noPreview(ts, reason string) error {
	return &NoPreviewError{TransferSyntax: ts, Name: TransferSyntaxName(ts), Reason: reason}
}

// Limits against hostile files.
const (
	MaxFileSize     = 2 << 30 // bytes read from a file
	MaxFrameSamples = 1 << 26 // Rows*Columns*SamplesPerPixel of one frame (8192x8192)
	MaxFrames       = 1 << 20
)

// Image is an opened DICOM image: its attributes and its pixel data.
type Image struct {
	TransferSyntax      string
	Rows, Columns       int
	SamplesPerPixel     int
	Photometric         string
	PlanarConfiguration int
	BitsAllocated       int
	BitsStored          int
	HighBit             int
	PixelRepresentation int // 1: signed (two's complement)
	RescaleSlope        float64
	RescaleIntercept    float64
	// Window is the first stored Window Center/Width, nil when absent.
	Window *Window

	nFrames int
	h       *header
	// encapsulated data, split into frames (each a list of fragments)
	frames [][][]byte
}

// Frames returns the number of frames.
func (im *Image) Frames() int { return im.nFrames }

// Open reads the file at path. See Decode.
func Open(path string) (*Image, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	if len(b) > MaxFileSize {
		return nil, fmt.Errorf("%s: %w: larger than %d bytes", path, ErrMalformed, MaxFileSize)
	}
	im, err := Decode(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return im, nil
}

// Decode reads a DICOM file's bytes. The Image keeps references into b.
func Decode(b []byte) (*Image, error) {
	h, err := parseHeader(b)
	if err != nil {
		return nil, err
	}
	if !h.hasPix {
		return nil, ErrNoPixelData
	}
	im := &Image{
		TransferSyntax:      h.ts,
		Rows:                h.us(0x00280010, 0),
		Columns:             h.us(0x00280011, 0),
		SamplesPerPixel:     h.us(0x00280002, 1),
		Photometric:         h.str(0x00280004),
		PlanarConfiguration: h.us(0x00280006, 0),
		BitsAllocated:       h.us(0x00280100, 0),
		PixelRepresentation: h.us(0x00280103, 0),
		RescaleSlope:        1,
		h:                   h,
	}
	im.BitsStored = h.us(0x00280101, im.BitsAllocated)
	im.HighBit = h.us(0x00280102, im.BitsStored-1)
	if s, ok := h.ds(0x00281053); ok && s != 0 {
		im.RescaleSlope = s
	}
	if i, ok := h.ds(0x00281052); ok {
		im.RescaleIntercept = i
	}
	if c, ok := h.ds(0x00281050); ok {
		if w, ok := h.ds(0x00281051); ok && w >= 1 {
			im.Window = &Window{Center: c, Width: w}
		}
	}
	if im.Photometric == "" {
		if im.SamplesPerPixel == 3 {
			im.Photometric = "RGB"
		} else {
			im.Photometric = "MONOCHROME2"
		}
	}
	im.nFrames = 1
	if n, ok := h.ds(0x00280008); ok && n >= 1 {
		if n > MaxFrames {
			return nil, errf("%v frames", n)
		}
		im.nFrames = int(n)
	}
	switch {
	case im.Rows <= 0 || im.Columns <= 0:
		return nil, errf("image of %dx%d pixels", im.Columns, im.Rows)
	case im.SamplesPerPixel != 1 && im.SamplesPerPixel != 3:
		return nil, errf("%d samples per pixel", im.SamplesPerPixel)
	case im.Rows*im.Columns*im.SamplesPerPixel > MaxFrameSamples:
		return nil, errf("frame of %dx%dx%d samples exceeds the limit", im.Columns, im.Rows, im.SamplesPerPixel)
	}
	if h.encaps != nil {
		if err := im.splitFrames(); err != nil {
			return nil, err
		}
	}
	return im, nil
}

// splitFrames maps the fragments of encapsulated pixel data to frames:
// by the Basic Offset Table when present, else one fragment per frame
// when the counts agree, else (JPEG) a frame starts at each fragment
// beginning with an SOI marker.
func (im *Image) splitFrames() error {
	bot, frags, offs, err := fragments(im.h.encaps)
	if err != nil {
		return err
	}
	if len(frags) == 0 {
		return errf("encapsulated pixel data without fragments")
	}
	n := im.nFrames
	switch {
	case n == 1:
		im.frames = [][][]byte{frags}
	case len(bot) == n:
		im.frames = make([][][]byte, n)
		j := 0
		for i := 0; i < n; i++ {
			start := bot[i]
			stop := ^uint32(0)
			if i+1 < n {
				stop = bot[i+1]
			}
			for j < len(frags) && offs[j] < start {
				j++
			}
			for j < len(frags) && offs[j] >= start && offs[j] < stop {
				im.frames[i] = append(im.frames[i], frags[j])
				j++
			}
		}
	case len(frags) == n:
		im.frames = make([][][]byte, n)
		for i := range frags {
			im.frames[i] = frags[i : i+1]
		}
	default:
		for _, f := range frags {
			if bytes.HasPrefix(f, []byte{0xFF, 0xD8}) || len(im.frames) == 0 {
				im.frames = append(im.frames, nil)
			}
			last := len(im.frames) - 1
			im.frames[last] = append(im.frames[last], f)
		}
	}
	return nil
}

// Frame is one decoded frame: its stored values (before the modality LUT),
// samples interleaved per pixel (R, G, B, R, ...).
type Frame struct {
	Rows, Columns, SamplesPerPixel int
	// Photometric of Values: "MONOCHROME1", "MONOCHROME2", "RGB" or
	// "YBR_FULL" (JPEG colour is converted to RGB by the decoder).
	Photometric string
	BitsStored  int
	Signed      bool
	Values      []int64
	im          *Image
	lo, hi      int64 // range of Values, once ranged
	ranged      bool
}

// Frame decodes frame i (0-based).
func (im *Image) Frame(i int) (*Frame, error) {
	if i < 0 || i >= im.nFrames {
		return nil, fmt.Errorf("frame %d of %d", i, im.nFrames)
	}
	f := &Frame{Rows: im.Rows, Columns: im.Columns, SamplesPerPixel: im.SamplesPerPixel,
		Photometric: im.Photometric, BitsStored: im.BitsStored, Signed: im.PixelRepresentation == 1, im: im}
	switch im.Photometric {
	case "MONOCHROME1", "MONOCHROME2":
		if im.SamplesPerPixel != 1 {
			return nil, errf("%s with %d samples", im.Photometric, im.SamplesPerPixel)
		}
	case "RGB", "YBR_FULL", "YBR_FULL_422":
		if im.SamplesPerPixel != 3 {
			return nil, errf("%s with %d samples", im.Photometric, im.SamplesPerPixel)
		}
	default:
		return nil, noPreview(im.TransferSyntax, "photometric interpretation "+im.Photometric)
	}
	var err error
	switch im.TransferSyntax {
	case tsImplicitLE, tsExplicitLE, tsDeflated, tsExplicitBE:
		err = im.decodeNative(i, f)
	case tsRLE:
		err = im.decodeRLE(i, f)
	case tsJPEGBase, tsJPEGExt:
		err = im.decodeJPEG(i, f)
	default:
		return nil, noPreview(im.TransferSyntax, "")
	}
	if err != nil {
		return nil, fmt.Errorf("frame %d: %w", i, err)
	}
	return f, nil
}

func (im *Image) checkBits() error {
	switch im.BitsAllocated {
	case 8, 16, 32:
	default:
		return noPreview(im.TransferSyntax, fmt.Sprintf("%d bits allocated", im.BitsAllocated))
	}
	if im.BitsStored < 1 || im.BitsStored > im.BitsAllocated || im.HighBit < im.BitsStored-1 || im.HighBit >= im.BitsAllocated {
		return errf("bits stored %d, high bit %d in %d bits", im.BitsStored, im.HighBit, im.BitsAllocated)
	}
	return nil
}

// stored turns a pixel cell into its stored value: the Bits Stored bits
// ending at High Bit, sign-extended when signed.
func (im *Image) stored(cell uint32) int64 {
	shift := uint(im.HighBit + 1 - im.BitsStored)
	v := uint64(cell) >> shift
	bs := uint(im.BitsStored)
	v &= 1<<bs - 1
	if im.PixelRepresentation == 1 && v&(1<<(bs-1)) != 0 {
		return int64(v) - int64(1)<<bs
	}
	return int64(v)
}

func (im *Image) decodeNative(i int, f *Frame) error {
	if im.BitsAllocated == 1 {
		return im.decodeBits(i, f)
	}
	if err := im.checkBits(); err != nil {
		return err
	}
	if im.Photometric == "YBR_FULL_422" {
		return im.decode422(i, f)
	}
	bpp := im.BitsAllocated / 8
	n := im.Rows * im.Columns * im.SamplesPerPixel
	size := int64(n) * int64(bpp)
	data := im.h.pixel
	if int64(i+1)*size > int64(len(data)) {
		return errf("pixel data holds %d bytes, frame %d needs %d", len(data), i, int64(i+1)*size)
	}
	data = data[int64(i)*size : int64(i+1)*size]
	o := im.h.e.order()
	f.Values = make([]int64, n)
	planar := im.SamplesPerPixel == 3 && im.PlanarConfiguration == 1
	px := im.Rows * im.Columns
	for k := 0; k < n; k++ {
		var cell uint32
		switch bpp {
		case 1:
			cell = uint32(data[k])
		case 2:
			cell = uint32(o.Uint16(data[2*k:]))
		case 4:
			cell = o.Uint32(data[4*k:])
		}
		dst := k
		if planar {
			dst = (k%px)*3 + k/px
		}
		f.Values[dst] = im.stored(cell)
	}
	return nil
}

// decodeBits decodes 1-bit data (segmentations, overlays as images):
// bits packed little-endian first, frames following each other bit by bit.
func (im *Image) decodeBits(i int, f *Frame) error {
	if im.SamplesPerPixel != 1 {
		return errf("1-bit data with %d samples", im.SamplesPerPixel)
	}
	n := im.Rows * im.Columns
	start := int64(i) * int64(n)
	if (start+int64(n)+7)/8 > int64(len(im.h.pixel)) {
		return errf("pixel data holds %d bytes, frame %d needs %d", len(im.h.pixel), i, (start+int64(n)+7)/8)
	}
	f.BitsStored, f.Signed = 1, false
	f.Values = make([]int64, n)
	for k := range f.Values {
		bit := start + int64(k)
		f.Values[k] = int64(im.h.pixel[bit/8]>>(bit%8)) & 1
	}
	return nil
}

// decode422 decodes native YBR_FULL_422: two pixels in Y0 Y1 Cb Cr
// (PS3.3 C.7.6.3.1.2), expanded to three samples per pixel.
func (im *Image) decode422(i int, f *Frame) error {
	if im.BitsAllocated != 8 || im.Columns%2 != 0 {
		return noPreview(im.TransferSyntax, "YBR_FULL_422 of odd width or more than 8 bits")
	}
	px := im.Rows * im.Columns
	size := int64(px) * 2
	if int64(i+1)*size > int64(len(im.h.pixel)) {
		return errf("pixel data holds %d bytes, frame %d needs %d", len(im.h.pixel), i, int64(i+1)*size)
	}
	data := im.h.pixel[int64(i)*size : int64(i+1)*size]
	f.Photometric = "YBR_FULL"
	f.Values = make([]int64, px*3)
	for p := 0; p < px; p += 2 {
		q := data[2*p : 2*p+4]
		y0, y1, cb, cr := im.stored(uint32(q[0])), im.stored(uint32(q[1])), im.stored(uint32(q[2])), im.stored(uint32(q[3]))
		copy(f.Values[3*p:], []int64{y0, cb, cr, y1, cb, cr})
	}
	return nil
}

// decodeRLE decodes an RLE Lossless frame (PS3.5 Annex G): one segment per
// byte plane, most significant byte first, sample by sample.
func (im *Image) decodeRLE(i int, f *Frame) error {
	if err := im.checkBits(); err != nil {
		return err
	}
	frame, err := im.encapsulated(i)
	if err != nil {
		return err
	}
	if len(frame) < 64 {
		return errf("RLE header cut")
	}
	le := enc{}.order()
	nseg := int(le.Uint32(frame))
	bpp := im.BitsAllocated / 8
	spp := im.SamplesPerPixel
	if nseg != bpp*spp || nseg > 15 {
		return errf("RLE frame with %d segments, expected %d", nseg, bpp*spp)
	}
	px := im.Rows * im.Columns
	// PackBits expands at most 64-fold (2 bytes give 128).
	if int64(px)*int64(nseg) > 64*int64(len(frame)) {
		return errf("RLE frame of %d bytes cannot hold %d samples", len(frame), px*spp)
	}
	planes := make([]byte, px*nseg)
	for s := 0; s < nseg; s++ {
		start := int64(le.Uint32(frame[4+4*s:]))
		end := int64(len(frame))
		if s+1 < nseg {
			end = int64(le.Uint32(frame[8+4*s:]))
		}
		if start < 64 || start > end || end > int64(len(frame)) {
			return errf("RLE segment %d at %d..%d of %d", s, start, end, len(frame))
		}
		unpackBits(frame[start:end], planes[s*px:(s+1)*px])
	}
	f.Values = make([]int64, px*spp)
	for p := 0; p < px; p++ {
		for smp := 0; smp < spp; smp++ {
			var cell uint32
			for k := 0; k < bpp; k++ {
				cell = cell<<8 | uint32(planes[(smp*bpp+k)*px+p])
			}
			f.Values[p*spp+smp] = im.stored(cell)
		}
	}
	return nil
}

// unpackBits decodes a PackBits segment into dst; what the segment does
// not fill stays zero, what exceeds dst is dropped.
func unpackBits(src, dst []byte) {
	o := 0
	for j := 0; j < len(src) && o < len(dst); {
		n := int(int8(src[j]))
		j++
		switch {
		case n >= 0:
			c := n + 1
			if j+c > len(src) {
				c = len(src) - j
			}
			o += copy(dst[o:], src[j:j+c])
			j += c
		case n != -128:
			if j >= len(src) {
				return
			}
			v := src[j]
			j++
			for c := 1 - n; c > 0 && o < len(dst); c-- {
				dst[o] = v
				o++
			}
		}
	}
}

// encapsulated returns the fragments of frame i joined.
func (im *Image) encapsulated(i int) ([]byte, error) {
	if im.h.encaps == nil {
		return nil, errf("%s with native pixel data", TransferSyntaxName(im.TransferSyntax))
	}
	if i >= len(im.frames) || len(im.frames[i]) == 0 {
		return nil, errf("encapsulated pixel data holds %d frames, not %d", len(im.frames), im.nFrames)
	}
	if len(im.frames[i]) == 1 {
		return im.frames[i][0], nil
	}
	var b []byte
	for _, fr := range im.frames[i] {
		b = append(b, fr...)
	}
	return b, nil
}

func (im *Image) decodeJPEG(i int, f *Frame) error {
	data, err := im.encapsulated(i)
	if err != nil {
		return err
	}
	cfg, err := jpeg.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		if _, ok := err.(jpeg.UnsupportedError); ok {
			return noPreview(im.TransferSyntax, err.Error())
		}
		return errf("JPEG: %v", err)
	}
	if cfg.Width != im.Columns || cfg.Height != im.Rows {
		return errf("JPEG of %dx%d in an image of %dx%d", cfg.Width, cfg.Height, im.Columns, im.Rows)
	}
	// A flat 8x8 block takes at least 2 bits: more pixels than this are not
	// in the data (and Go's decoder would allocate them first).
	if int64(im.Rows)*int64(im.Columns) > 512*int64(len(data)) {
		return errf("JPEG of %d bytes cannot hold %dx%d pixels", len(data), im.Columns, im.Rows)
	}
	img, err := jpeg.Decode(bytes.NewReader(data))
	if err != nil {
		if _, ok := err.(jpeg.UnsupportedError); ok {
			return noPreview(im.TransferSyntax, err.Error())
		}
		return errf("JPEG: %v", err)
	}
	px := im.Rows * im.Columns
	f.BitsStored, f.Signed = 8, false
	switch m := img.(type) {
	case *image.Gray:
		if im.SamplesPerPixel != 1 {
			return errf("grey JPEG in a %d-sample image", im.SamplesPerPixel)
		}
		f.Values = make([]int64, px)
		for y := 0; y < im.Rows; y++ {
			row := m.Pix[y*m.Stride : y*m.Stride+im.Columns]
			for x, v := range row {
				f.Values[y*im.Columns+x] = int64(v)
			}
		}
	case *image.YCbCr:
		if im.SamplesPerPixel != 3 {
			return errf("colour JPEG in a %d-sample image", im.SamplesPerPixel)
		}
		f.Photometric = "RGB"
		f.Values = make([]int64, px*3)
		cb, cr := upsampleChroma(m, im.Columns, im.Rows)
		// Photometric RGB without an Adobe colour transform: the JPEG
		// holds RGB as it is (PS3.5 8.2.1), not YCbCr.
		_, adobe := adobeTransform(data)
		raw := im.Photometric == "RGB" && !adobe
		for y := 0; y < im.Rows; y++ {
			for x := 0; x < im.Columns; x++ {
				k := y*im.Columns + x
				yy, b, r := m.Y[y*m.YStride+x], cb[k], cr[k]
				if raw {
					f.Values[3*k], f.Values[3*k+1], f.Values[3*k+2] = int64(yy), int64(b), int64(r)
					continue
				}
				R, G, B := color.YCbCrToRGB(yy, b, r)
				f.Values[3*k], f.Values[3*k+1], f.Values[3*k+2] = int64(R), int64(G), int64(B)
			}
		}
	default:
		if im.SamplesPerPixel != 3 {
			return errf("colour JPEG in a %d-sample image", im.SamplesPerPixel)
		}
		f.Photometric = "RGB"
		f.Values = make([]int64, px*3)
		b := img.Bounds()
		for y := 0; y < im.Rows; y++ {
			for x := 0; x < im.Columns; x++ {
				r, g, bl, _ := img.At(b.Min.X+x, b.Min.Y+y).RGBA()
				k := (y*im.Columns + x) * 3
				f.Values[k], f.Values[k+1], f.Values[k+2] = int64(r>>8), int64(g>>8), int64(bl>>8)
			}
		}
	}
	return nil
}
