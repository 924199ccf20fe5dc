package dlx

import (
	"fmt"
	"image"
	_ "image/jpeg" // photos of a code sheet
	_ "image/png"  // screenshots, scans
	"os"

	"github.com/bildbote/bildbote/internal/i18n"
	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"
)

// maxQRPixels bounds decoding work: larger photos are scaled down first.
const maxQRSide = 1600

// DecodeQRImage reads the QR code in a PNG or JPEG file — a screenshot, a
// scan or a phone photo of a printed code sheet — and returns its text
// (the code URL, or a bare code). Photos are converted to grey, tried at
// several scales with two binarizers and TRY_HARDER.
func DecodeQRImage(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", i18n.NewError(i18n.KindInput, "transfer.dlx.qr_unreadable", path).Wrap(err)
	}
	defer f.Close()
	img, _, err := image.Decode(f)
	if err != nil {
		return "", i18n.NewError(i18n.KindInput, "transfer.dlx.qr_unreadable", path).Wrap(err)
	}
	gray := toGray(img)
	for _, scaled := range scales(gray) {
		if text, ok := decodeQR(scaled); ok {
			return text, nil
		}
	}
	return "", i18n.NewError(i18n.KindInput, "transfer.dlx.qr_not_found").WithHint("transfer.dlx.qr_not_found.hint").
		Wrap(fmt.Errorf("no QR code found in %s", path))
}

func decodeQR(img *image.Gray) (string, bool) {
	tryHarder := map[gozxing.DecodeHintType]interface{}{gozxing.DecodeHintType_TRY_HARDER: true}
	src := gozxing.NewLuminanceSourceFromImage(img)
	sources := []gozxing.LuminanceSource{src}
	// The finder search runs along rows; a turned image sometimes avoids
	// a false finder pattern.
	if rotated, err := src.RotateCounterClockwise(); err == nil {
		sources = append(sources, rotated)
	}
	for _, s := range sources {
		for _, bin := range []gozxing.Binarizer{gozxing.NewHybridBinarizer(s), gozxing.NewGlobalHistgramBinarizer(s)} {
			if text, ok := tryDecode(bin, tryHarder); ok {
				return text, true
			}
		}
	}
	// A clean screenshot: read the symbol without searching for it.
	pure := map[gozxing.DecodeHintType]interface{}{gozxing.DecodeHintType_PURE_BARCODE: true}
	return tryDecode(gozxing.NewHybridBinarizer(src), pure)
}

func tryDecode(bin gozxing.Binarizer, hints map[gozxing.DecodeHintType]interface{}) (string, bool) {
	bmp, err := gozxing.NewBinaryBitmap(bin)
	if err != nil {
		return "", false
	}
	res, err := qrcode.NewQRCodeReader().Decode(bmp, hints)
	if err != nil || res.GetText() == "" {
		return "", false
	}
	return res.GetText(), true
}

// scales returns the image at a workable size first, then halved twice
// (the finder patterns of a big code are found more easily at lower
// resolution, and blur matters less). When the photo had to be scaled
// down, its middle is also tried at full resolution: a small code in
// the middle of a big photo of a whole sheet loses too much otherwise.
func scales(img *image.Gray) []*image.Gray {
	var out []*image.Gray
	work := img
	for work.Bounds().Dx() > maxQRSide || work.Bounds().Dy() > maxQRSide {
		work = halve(work)
	}
	out = append(out, work)
	if work != img {
		out = append(out, middle(img, maxQRSide))
	}
	for i := 0; i < 2 && work.Bounds().Dx() >= 400 && work.Bounds().Dy() >= 400; i++ {
		work = halve(work)
		out = append(out, work)
	}
	return out
}

// middle crops the centre of img to at most side×side pixels.
func middle(img *image.Gray, side int) *image.Gray {
	b := img.Bounds()
	w, h := min(b.Dx(), side), min(b.Dy(), side)
	x0, y0 := b.Min.X+(b.Dx()-w)/2, b.Min.Y+(b.Dy()-h)/2
	return img.SubImage(image.Rect(x0, y0, x0+w, y0+h)).(*image.Gray)
}

func toGray(img image.Image) *image.Gray {
	if g, ok := img.(*image.Gray); ok {
		return g
	}
	b := img.Bounds()
	g := image.NewGray(image.Rect(0, 0, b.Dx(), b.Dy()))
	for y := 0; y < b.Dy(); y++ {
		for x := 0; x < b.Dx(); x++ {
			r, gg, bb, _ := img.At(b.Min.X+x, b.Min.Y+y).RGBA()
			// ITU-R BT.601 luma on 16-bit channels.
			g.Pix[y*g.Stride+x] = uint8((299*r + 587*gg + 114*bb) / 1000 >> 8)
		}
	}
	return g
}

// halve scales down by 2 with a 2x2 box filter.
func halve(src *image.Gray) *image.Gray {
	w, h := src.Bounds().Dx()/2, src.Bounds().Dy()/2
	dst := image.NewGray(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		r0 := src.Pix[(2*y)*src.Stride:]
		r1 := src.Pix[(2*y+1)*src.Stride:]
		for x := 0; x < w; x++ {
			s := int(r0[2*x]) + int(r0[2*x+1]) + int(r1[2*x]) + int(r1[2*x+1])
			dst.Pix[y*dst.Stride+x] = uint8(s / 4)
		}
	}
	return dst
}
