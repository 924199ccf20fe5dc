package dlx_test

import (
	"flag"
	"image"
	"image/color"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/bildbote/bildbote/internal/i18n"
	"github.com/bildbote/bildbote/internal/testkit/corpus"
	"github.com/bildbote/bildbote/transfer/dlx"
	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"
)

const qrPayload = "https://portal.example/c?token=ABCD-EFGH-JKMN"

// writeQR renders payload as a QR code PNG with the same library the
// portal's code sheet uses, size px wide.
func writeQR(t *testing.T, path, payload string, size int) {
	t.Helper()
	m, err := qrcode.NewQRCodeWriter().Encode(payload, gozxing.BarcodeFormat_QR_CODE, size, size,
		map[gozxing.EncodeHintType]interface{}{gozxing.EncodeHintType_ERROR_CORRECTION: "M"})
	if err != nil {
		t.Fatal(err)
	}
	img := image.NewGray(image.Rect(0, 0, m.GetWidth(), m.GetHeight()))
	for y := 0; y < m.GetHeight(); y++ {
		for x := 0; x < m.GetWidth(); x++ {
			c := color.Gray{255}
			if m.Get(x, y) {
				c = color.Gray{0}
			}
			img.SetGray(x, y, c)
		}
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
}

func TestDecodeQRScreenshot(t *testing.T) {
	p := filepath.Join(t.TempDir(), "qr.png")
	writeQR(t, p, qrPayload, 240)
	got, err := dlx.DecodeQRImage(p)
	if err != nil || got != qrPayload {
		t.Fatalf("DecodeQRImage = %q, %v", got, err)
	}
}

var updatePhoto = flag.Bool("update", false, "regenerate testdata/qr-photo.jpg with ImageMagick")

// A phone photo of a printed sheet: the code small on a big page, rotated,
// in perspective, blurred, with uneven light and noise, as a JPEG. The
// picture is made by ImageMagick from the clean code (makePhoto, run with
// -update) and checked in: making it takes ImageMagick half a minute on a
// loaded machine.
func TestDecodeQRPhoto(t *testing.T) {
	photo := filepath.Join("testdata", "qr-photo.jpg")
	if *updatePhoto {
		makePhoto(t, photo)
	}
	got, err := dlx.DecodeQRImage(photo)
	if err != nil || got != qrPayload {
		t.Fatalf("DecodeQRImage(photo) = %q, %v", got, err)
	}
}

func makePhoto(t *testing.T, photo string) {
	convert := corpus.Tool(t, "convert")
	qr := filepath.Join(t.TempDir(), "qr.png")
	writeQR(t, qr, qrPayload, 300)
	if err := os.MkdirAll(filepath.Dir(photo), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(convert,
		"-size", "1800x2400", "gradient:#f4f1ea-#9c978f", // paper under a lamp
		qr, "-geometry", "+700+1300", "-composite",
		"-virtual-pixel", "white", "-distort", "Perspective", "0,0 60,90  1800,0 1690,45  0,2400 25,2330  1800,2400 1785,2385",
		"-rotate", "7", "-blur", "0x1.5", "-attenuate", "0.4", "+noise", "Gaussian",
		"-quality", "70", photo)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("convert: %v\n%s", err, out)
	}
}

func TestDecodeQRNone(t *testing.T) {
	p := filepath.Join(t.TempDir(), "blank.png")
	f, _ := os.Create(p)
	png.Encode(f, image.NewGray(image.Rect(0, 0, 300, 300)))
	f.Close()
	_, err := dlx.DecodeQRImage(p)
	if ue, ok := i18n.AsUserError(err); !ok || ue.Key != "transfer.dlx.qr_not_found" {
		t.Fatalf("blank image: %v", err)
	}
	if err := os.WriteFile(p, []byte("not an image"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = dlx.DecodeQRImage(p)
	if ue, ok := i18n.AsUserError(err); !ok || ue.Key != "transfer.dlx.qr_unreadable" {
		t.Fatalf("not an image: %v", err)
	}
}
